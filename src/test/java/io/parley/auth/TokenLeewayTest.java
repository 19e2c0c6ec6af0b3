package io.parley.auth;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The clock leeway ({@code --token-leeway}): how long past its exp a token still counts, and for how long. */
class TokenLeewayTest {

    private static final String SECRET = "the-token-leeway-test-secret-of-32-bytes";

    @Test
    void aTokenIsAcceptedForTheLeewayPastItsExpiryAndItsIdentityLastsThatLong() {
        Instant exp = Instant.now().truncatedTo(ChronoUnit.SECONDS).minusSeconds(3);
        String token = token(exp);

        Identity who = new Tokens(SECRET, Duration.ofSeconds(10)).verify(token);
        assertThat(who.validUntil()).isEqualTo(exp.plusSeconds(10));
        assertThat(new Tokens(SECRET).verify(token).validUntil()).as("5 s by default").isEqualTo(exp.plusSeconds(5));
        assertThatThrownBy(() -> new Tokens(SECRET, Duration.ZERO).verify(token))
                .isInstanceOf(Tokens.InvalidTokenException.class).hasMessageContaining("expired");
    }

    @Test
    void withoutLeewayATokenLastsUntilItsExp() {
        Instant exp = Instant.now().truncatedTo(ChronoUnit.SECONDS).plusSeconds(60);

        assertThat(new Tokens(SECRET, Duration.ZERO).verify(token(exp)).validUntil()).isEqualTo(exp);
    }

    private static String token(Instant exp) {
        return JWT.create().withSubject("u-1").withClaim("name", "Ada").withExpiresAt(exp)
                .sign(Algorithm.HMAC256(SECRET));
    }
}
