package io.parley.transport;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.NetUtil;
import io.parley.config.Networks;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Who the client is behind trusted proxies, and which proxy settings are refused. */
class ForwardedForTest {

    private static final Networks PROXIES = Networks.parse("trusted proxy", List.of("127.0.0.1", "10.0.0.0/8", "fd00::/8"));
    private static final InetAddress PROXY = ip("127.0.0.1");

    private static InetAddress ip(String literal) {
        return NetUtil.createInetAddressFromIpAddressString(literal);
    }

    private static InetAddress client(String... forwardedFor) {
        HttpHeaders headers = new DefaultHttpHeaders();
        for (String value : forwardedFor) {
            headers.add(Admission.X_FORWARDED_FOR, value);
        }
        return Admission.clientBehind(PROXY, headers, PROXIES);
    }

    @Test
    void theClientIsTheRightMostAddressNoTrustedProxyWrote() {
        assertThat(client("203.0.113.5")).isEqualTo(ip("203.0.113.5"));
        // A chain of proxies: the load balancer (10.0.0.2) forwarded to the local one.
        assertThat(client("203.0.113.5, 10.0.0.2")).isEqualTo(ip("203.0.113.5"));
        // The same chain spread over two headers.
        assertThat(client("203.0.113.5", "10.0.0.2")).isEqualTo(ip("203.0.113.5"));
        assertThat(client("2001:db8::5, fd00::1")).isEqualTo(ip("2001:db8::5"));
    }

    @Test
    void anAddressMayComeWithItsPort() {
        assertThat(client("203.0.113.5:4711")).isEqualTo(ip("203.0.113.5"));
        assertThat(client("[2001:db8::5]:4711, 10.0.0.2:80")).isEqualTo(ip("2001:db8::5"));
        assertThat(client("[2001:db8::5]")).isEqualTo(ip("2001:db8::5"));
    }

    @Test
    void whatTheClientWroteBeforeItsOwnAddressIsIgnored() {
        assertThat(client("1.2.3.4, 198.51.100.9, 203.0.113.5")).isEqualTo(ip("203.0.113.5"));
        assertThat(client("10.9.9.9, 203.0.113.5")).isEqualTo(ip("203.0.113.5"));
    }

    @Test
    void withoutAUsableHeaderTheProxyItselfIsTheClient() {
        assertThat(client()).isEqualTo(PROXY);
        assertThat(client("")).isEqualTo(PROXY);
        assertThat(client("unknown")).isEqualTo(PROXY);
        assertThat(client("203.0.113.5, evil.example")).isEqualTo(PROXY);
    }

    @Test
    void whenEveryHopIsATrustedProxyTheFirstOneIsTheClient() {
        assertThat(client("10.0.0.7, 10.0.0.2")).isEqualTo(ip("10.0.0.7"));
    }

    @Test
    void proxiesAreAddressesOrCidrBlocksAndNothingElse() {
        assertThat(PROXIES.contains(ip("10.200.1.1"))).isTrue();
        assertThat(PROXIES.contains(ip("11.0.0.1"))).isFalse();
        assertThat(PROXIES.contains(ip("fd12::1"))).isTrue();
        assertThat(PROXIES.contains(ip("127.0.0.2"))).isFalse();
        assertThat(Networks.parse("trusted proxy", List.of(" ", "")).isEmpty()).isTrue();
        assertThat(Networks.none().contains(PROXY)).isFalse();

        assertThatThrownBy(() -> Networks.parse("trusted proxy", List.of("proxy.example.com")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("proxy.example.com");
        assertThatThrownBy(() -> Networks.parse("trusted proxy", List.of("10.0.0.0/33")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0-32");
        assertThatThrownBy(() -> Networks.parse("trusted proxy", List.of("10.0.0.0/x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("10.0.0.0/x");
        assertThatThrownBy(() -> Networks.parse("trusted proxy", List.of("fd00::/129")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0-128");
    }
}
