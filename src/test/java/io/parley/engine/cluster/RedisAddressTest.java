package io.parley.engine.cluster;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RedisAddressTest {

    @Test
    void oneUrlIsAStandaloneRedisWithItsPasswordAndTls() {
        RedisAddress a = RedisAddress.parse("rediss://:s3cret@cache.internal:6380");

        assertThat(a.cluster()).isFalse();
        assertThat(a.uris()).singleElement().satisfies(u -> {
            assertThat(u.getHost()).isEqualTo("cache.internal");
            assertThat(u.getPort()).isEqualTo(6380);
            assertThat(u.isSsl()).isTrue();
            assertThat(new String(u.getCredentialsProvider().resolveCredentials().block().getPassword())).isEqualTo("s3cret");
        });
        assertThat(a.toString()).doesNotContain("s3cret");
    }

    @Test
    void severalUrlsOrTheClusterSchemeAreACluster() {
        RedisAddress seeds = RedisAddress.parse("redis://a:7000, redis://b:7001");
        assertThat(seeds.cluster()).isTrue();
        assertThat(seeds.uris()).extracting(u -> u.getHost() + ":" + u.getPort()).containsExactly("a:7000", "b:7001");

        RedisAddress one = RedisAddress.parse("redis-cluster://a:7000");
        assertThat(one.cluster()).isTrue();
        assertThat(one.uris()).singleElement().satisfies(u -> assertThat(u.isSsl()).isFalse());
        assertThat(RedisAddress.parse("rediss-cluster://a:7000").uris().getFirst().isSsl()).isTrue();
    }

    @Test
    void refusesWhatIsNotARedisUrlWithoutEchoingThePassword() {
        assertThatThrownBy(() -> RedisAddress.parse("http://:pw@a:1")).hasMessageContaining("not a Redis URL")
                .hasMessageNotContaining("pw");
        assertThatThrownBy(() -> RedisAddress.parse("redis://a:1,rediss://b:2")).hasMessageContaining("mixed");
        assertThatThrownBy(() -> RedisAddress.parse(" ")).hasMessageContaining("empty");
    }
}
