package io.parley.auth;

import com.auth0.jwt.JWT;
import com.auth0.jwt.algorithms.Algorithm;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A token's {@code rooms} claim: room name to room role, checked like the rest of the token. */
class RoomsClaimTest {

    private static final String SECRET = "the-rooms-claim-secret-of-32-bytes-or-more";
    private final Tokens tokens = new Tokens(SECRET);

    private static com.auth0.jwt.JWTCreator.Builder base() {
        return JWT.create().withSubject("u").withClaim("name", "u").withExpiresAt(Instant.now().plusSeconds(600));
    }

    @Test
    void aMintedClaimIsReadBackAndATokenWithoutOneGrantsNoRooms() {
        Identity who = tokens.verify(tokens.mint("u", "u", List.of(), Map.of("team", "member", "ops", "owner"),
                Duration.ofMinutes(5)));
        assertThat(who.rooms()).isEqualTo(Map.of("team", "member", "ops", "owner"));
        assertThat(tokens.verify(tokens.mint("u", "u", List.of(), Duration.ofMinutes(5))).rooms()).isEmpty();
    }

    @Test
    void aClaimThatIsNotAnObjectOfRoomNamesToRolesIsRefused() {
        Algorithm key = Algorithm.HMAC256(SECRET);
        assertThatThrownBy(() -> tokens.verify(base().withClaim("rooms", List.of("team")).sign(key)))
                .isInstanceOf(Tokens.InvalidTokenException.class);
        assertThatThrownBy(() -> tokens.verify(base().withClaim("rooms", "team").sign(key)))
                .isInstanceOf(Tokens.InvalidTokenException.class);
        assertThatThrownBy(() -> tokens.verify(base().withClaim("rooms", Map.of("team", "king")).sign(key)))
                .hasMessageContaining("member, moderator or owner");
        assertThatThrownBy(() -> tokens.verify(base().withClaim("rooms", Map.of("team", 3)).sign(key)))
                .isInstanceOf(Tokens.InvalidTokenException.class);
        assertThatThrownBy(() -> tokens.verify(base().withClaim("rooms", Map.of("no/such room", "member")).sign(key)))
                .hasMessageContaining("not a room name");
        Map<String, Object> many = new HashMap<>();
        for (int i = 0; i <= Tokens.MAX_ROOMS_CLAIMED; i++) {
            many.put("r" + i, "member");
        }
        assertThatThrownBy(() -> tokens.verify(base().withClaim("rooms", many).sign(key)))
                .hasMessageContaining("more than");
    }
}
