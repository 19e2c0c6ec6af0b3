package io.parley.resilience;

import io.parley.testing.NginxProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the nginx configurations Parley documents and ships must say, checked as text: what the runs
 * through real nginx (NodesBehindNginxTest, BehindNginxBrowserTest) cannot wait for or would not
 * notice. The single-node file, src/dist/nginx/parley.conf, is shown verbatim in docs/OPERATIONS.md.
 */
class NginxConfigTest {

    private static String config(String which) throws Exception {
        return switch (which) {
            case "several nodes" -> NginxProcess.documentedBlock();
            case "single node" -> Files.readString(NginxProcess.SINGLE_NODE);
            default -> throw new IllegalArgumentException(which);
        };
    }

    @Test
    void theDocumentedSingleNodeConfigurationIsTheShippedFile() throws Exception {
        assertThat(NginxProcess.documentedSingleNodeBlock()).isEqualTo(Files.readString(NginxProcess.SINGLE_NODE));
    }

    /**
     * nginx must outlast Parley's own timeouts. A WebSocket is closed by Parley after --idle-timeout
     * (60 s by default) and a long poll is held up to 30 s; an nginx read timeout shorter than those
     * would cut quiet chats and long polls. And the API is not buffered by nginx.
     */
    @ParameterizedTest
    @ValueSource(strings = {"several nodes", "single node"})
    void timeoutsOutlastParleysOwnAndTheApiIsNotBuffered(String which) throws Exception {
        String block = withoutComments(config(which));
        String chat = location(block, "= /chat");
        String api = location(block, "/api/");
        assertThat(seconds(chat, "proxy_read_timeout")).as("WebSocket read timeout, s").isGreaterThan(60);
        assertThat(seconds(chat, "proxy_send_timeout")).as("WebSocket send timeout, s").isGreaterThan(60);
        assertThat(seconds(api, "proxy_read_timeout")).as("API read timeout, s (long polls wait up to 30 s)").isGreaterThan(30);
        assertThat(api).contains("proxy_buffering off;");
    }

    /**
     * Parley believes X-Forwarded-* and Forwarded from a trusted proxy, so the proxy must write them
     * itself: nginx passes on any header it is not told to set, a client's made-up ones included.
     */
    @ParameterizedTest
    @ValueSource(strings = {"several nodes", "single node"})
    void forwardsTheAddressTheBrowserUsedAndNothingTheClientMadeUp(String which) throws Exception {
        String block = withoutComments(config(which));
        assertThat(block).containsPattern("proxy_set_header Host \\$(http_)?host;")
                .containsPattern("proxy_set_header X-Forwarded-Host \\$(http_)?host;")
                .contains("proxy_set_header X-Forwarded-Proto $scheme;")
                .contains("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;")
                .contains("proxy_set_header Forwarded \"\";")
                .contains("proxy_set_header Upgrade $http_upgrade;")
                .contains("proxy_set_header Connection $connection_upgrade;")
                .contains("return 301 https://$host$request_uri;");
    }

    @Test
    void severalNodesAreBalancedWithoutStickiness() throws Exception {
        assertThat(withoutComments(NginxProcess.documentedBlock()))
                .doesNotContain("ip_hash").doesNotContain("sticky").doesNotContainPattern("(?m)^\\s*hash ");
    }

    private static String withoutComments(String conf) {
        return conf.replaceAll("(?m)#.*$", "");
    }

    private static String location(String block, String match) {
        Matcher m = Pattern.compile("location\\s+" + Pattern.quote(match) + "\\s*\\{([^}]*)}").matcher(block);
        assertThat(m.find()).as("the config has 'location %s { ... }'", match).isTrue();
        return m.group(1);
    }

    /** An nginx time (30, 30s, 5m, 1h) set in a location, in seconds. */
    private static long seconds(String location, String directive) {
        Matcher m = Pattern.compile(directive + "\\s+(\\d+)(s|m|h)?\\s*;").matcher(location);
        assertThat(m.find()).as("%s is set", directive).isTrue();
        long n = Long.parseLong(m.group(1));
        return m.group(2) == null ? n : switch (m.group(2)) {
            case "m" -> n * 60;
            case "h" -> n * 3600;
            default -> n;
        };
    }
}
