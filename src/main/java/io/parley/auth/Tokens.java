package io.parley.auth;

import com.auth0.jwt.JWT;
import com.auth0.jwt.JWTVerifier;
import com.auth0.jwt.algorithms.Algorithm;
import com.auth0.jwt.exceptions.JWTDecodeException;
import com.auth0.jwt.exceptions.JWTVerificationException;
import com.auth0.jwt.exceptions.SignatureVerificationException;
import com.auth0.jwt.exceptions.TokenExpiredException;
import com.auth0.jwt.interfaces.Claim;
import com.auth0.jwt.interfaces.DecodedJWT;
import io.parley.store.RoomRecord;

import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Signed tokens: JWTs with HMAC-SHA256 over a secret the server and the token issuer share. The
 * signature, the algorithm (only HS256 is accepted, so {@code alg: none} and key confusion are out)
 * and the expiry are checked by auth0's java-jwt; this class only says which claims Parley needs.
 *
 * <p>Threads: immutable, safe from any thread. Verifying costs one HMAC over the token (a few
 * microseconds), so it runs on the event loop that receives the handshake.
 */
public final class Tokens {

    private static final String NAME_CLAIM = "name";
    private static final String ROLES_CLAIM = "roles";
    private static final String ROOMS_CLAIM = "rooms";
    /** Rooms one token may grant: a token travels in every request and a query string, so it stays small. */
    static final int MAX_ROOMS_CLAIMED = 100;
    /** ChatRules' room names; repeated here since auth sits below chat. */
    private static final Pattern ROOM_NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** Clocks of the issuer and the server may differ a little; machines that sync time, by less. */
    private static final Duration DEFAULT_LEEWAY = Duration.ofSeconds(5);
    private static final int MAX_USER_LENGTH = 64;
    /**
     * The latest expiry accepted. A later one is no token anyone means to issue, and near the end of
     * {@link Instant}'s range the leeway, or milliseconds since the epoch for the {@code welcome},
     * would no longer fit.
     */
    static final Instant LATEST_EXPIRY = Instant.parse("9999-12-31T23:59:59Z");

    private final Algorithm algorithm;
    private final JWTVerifier verifier;
    private final long leewaySeconds;

    /** Tokens over {@code secret}, accepted for 5 s past their expiry. */
    public Tokens(String secret) {
        this(secret, DEFAULT_LEEWAY);
    }

    /**
     * @param leeway how long past its {@code exp} a token is still accepted (whole seconds, as a JWT's
     *               times are); the {@link Identity#validUntil()} of a verified token includes it
     */
    public Tokens(String secret, Duration leeway) {
        if (leeway.isNegative()) {
            throw new IllegalArgumentException("the leeway may not be negative, was " + leeway);
        }
        this.leewaySeconds = leeway.toSeconds();
        this.algorithm = Algorithm.HMAC256(secret);
        this.verifier = JWT.require(algorithm)
                .withClaimPresence("sub")
                .withClaimPresence(NAME_CLAIM)
                .withClaimPresence("exp")
                .acceptLeeway(leewaySeconds)
                .build();
    }

    /** A token for {@code user}, valid for {@code ttl}. */
    public String mint(String user, String name, List<String> roles, Duration ttl) {
        return mint(user, name, roles, Map.of(), ttl);
    }

    /** A token for {@code user} that also grants room roles ({@code rooms}: room name to role), valid for {@code ttl}. */
    public String mint(String user, String name, List<String> roles, Map<String, String> rooms, Duration ttl) {
        Identity checked = checked(user, name, roles);
        checkedRooms(rooms);
        Instant now = Instant.now();
        if (ttl.compareTo(Duration.between(now, LATEST_EXPIRY)) > 0) {
            throw new InvalidTokenException("a token may not be valid past " + LATEST_EXPIRY);
        }
        return JWT.create()
                .withSubject(checked.user())
                .withClaim(NAME_CLAIM, checked.name())
                .withClaim(ROLES_CLAIM, checked.roles())
                .withClaim(ROOMS_CLAIM, rooms.isEmpty() ? null : Map.<String, Object>copyOf(rooms))
                .withIssuedAt(now)
                .withExpiresAt(now.plus(ttl))
                .sign(algorithm);
    }

    /**
     * The identity a token proves.
     *
     * @throws InvalidTokenException with a reason a client may be shown, if the token is malformed,
     *                               badly signed, expired, or lacks what Parley needs
     */
    public Identity verify(String token) {
        DecodedJWT jwt;
        try {
            jwt = verifier.verify(token);
        } catch (TokenExpiredException e) {
            throw new InvalidTokenException("the token has expired");
        } catch (JWTDecodeException e) {
            throw new InvalidTokenException("the token is malformed: it is not a JWT");
        } catch (SignatureVerificationException e) {
            throw new InvalidTokenException("the token's signature does not match this server's secret");
        } catch (JWTVerificationException e) {
            throw new InvalidTokenException("the token is not valid: " + e.getMessage());
        } catch (DateTimeException | ArithmeticException e) {
            // A time claim (exp, nbf, iat) beyond what Instant holds: java-jwt lets these through.
            throw new InvalidTokenException("the token's times are out of range");
        }
        Instant expires = jwt.getExpiresAtAsInstant();
        if (expires.isAfter(LATEST_EXPIRY)) {
            throw new InvalidTokenException("the token's exp is after " + LATEST_EXPIRY);
        }
        Claim roles = jwt.getClaim(ROLES_CLAIM);
        List<String> roleList;
        try {
            roleList = roles.isMissing() || roles.isNull() ? List.of() : roles.asList(String.class);
        } catch (JWTVerificationException e) {
            throw new InvalidTokenException("the token's roles are not a list of strings");
        }
        if (roleList == null) {
            throw new InvalidTokenException("the token's roles are not a list of strings");
        }
        Identity who = checked(jwt.getSubject(), jwt.getClaim(NAME_CLAIM).asString(), roleList);
        return new Identity(who.user(), who.name(), who.roles(),
                expires.plusSeconds(leewaySeconds), rooms(jwt.getClaim(ROOMS_CLAIM)));
    }

    /** The {@code rooms} claim: an object of room name to room role, at most {@value #MAX_ROOMS_CLAIMED} of them. */
    private static Map<String, String> rooms(Claim claim) {
        if (claim.isMissing() || claim.isNull()) {
            return Map.of();
        }
        Map<String, Object> raw;
        try {
            raw = claim.asMap();
        } catch (JWTDecodeException e) {
            raw = null;
        }
        if (raw == null) {
            throw new InvalidTokenException("the token's rooms are not an object of room names to roles");
        }
        Map<String, String> rooms = new HashMap<>();
        raw.forEach((room, role) -> rooms.put(room, role instanceof String s ? s : null));
        return checkedRooms(rooms);
    }

    private static Map<String, String> checkedRooms(Map<String, String> rooms) {
        if (rooms.size() > MAX_ROOMS_CLAIMED) {
            throw new InvalidTokenException("the token's rooms name more than " + MAX_ROOMS_CLAIMED + " rooms");
        }
        rooms.forEach((room, role) -> {
            if (room == null || !ROOM_NAME.matcher(room).matches()) {
                throw new InvalidTokenException("the token's rooms name something that is not a room name");
            }
            if (!RoomRecord.isRole(role)) {
                throw new InvalidTokenException("the token's role in room " + room + " must be member, moderator or owner");
            }
        });
        return Map.copyOf(rooms);
    }

    private static Identity checked(String user, String name, List<String> roles) {
        if (user == null || user.isBlank() || user.length() > MAX_USER_LENGTH || hasControl(user)) {
            throw new InvalidTokenException("the token's sub must be 1-" + MAX_USER_LENGTH
                    + " characters without control characters");
        }
        if (user.startsWith(Identity.GUEST_PREFIX)) {
            throw new InvalidTokenException("the token's sub may not start with " + Identity.GUEST_PREFIX);
        }
        // The rules of every display name (no invisible, bidi or control characters), for minted and
        // received tokens alike: `parley token` cannot mint a name the server would refuse.
        String trimmed;
        try {
            trimmed = DisplayNames.check(name);
        } catch (DisplayNames.UnsafeName e) {
            throw new InvalidTokenException("the token's name is not a safe display name: " + e.getMessage());
        }
        if (roles.stream().anyMatch(r -> r == null || r.isBlank())) {
            throw new InvalidTokenException("the token's roles must be non-empty strings");
        }
        return new Identity(user, trimmed, roles, null);
    }

    private static boolean hasControl(String s) {
        return s.codePoints().anyMatch(c -> Character.isISOControl(c) || Character.getType(c) == Character.SURROGATE);
    }

    /** A token that proves nothing; the message says why, without echoing the token. */
    public static final class InvalidTokenException extends RuntimeException {
        public InvalidTokenException(String reason) {
            super(reason, null, false, false);
        }
    }
}
