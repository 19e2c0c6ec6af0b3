package io.parley.auth;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Who is behind a connection or an HTTP request, as far as the server can tell.
 *
 * <p>{@code user} is what messages are attributed to and what rate limits and idempotency are keyed
 * on. A user with a token has the token's {@code sub}; a guest has {@code guest:<name>}, a namespace
 * tokens may not use, so a guest never passes as a user.
 *
 * @param user       stable id: the token's subject, or {@code guest:<name>}
 * @param name       display name
 * @param roles      the token's roles; empty for guests
 * @param validUntil when the proof runs out (the token's expiry, plus the clock leeway), or null for a
 *                   guest: a connection is closed then
 * @param rooms      room roles the token grants (its {@code rooms} claim): room name to {@code member},
 *                   {@code moderator} or {@code owner}; empty for guests and most tokens
 */
public record Identity(String user, String name, List<String> roles, Instant validUntil, Map<String, String> rooms) {

    public static final String GUEST_PREFIX = "guest:";
    /** The server role that may do anything to any room. */
    public static final String ADMIN = "admin";

    public Identity {
        roles = List.copyOf(roles);
        rooms = Map.copyOf(rooms);
    }

    /** An identity whose token grants no rooms. */
    public Identity(String user, String name, List<String> roles, Instant validUntil) {
        this(user, name, roles, validUntil, Map.of());
    }

    /** A server admin: the token's (or the account's) roles say {@code admin}. */
    public boolean admin() {
        return roles.contains(ADMIN);
    }

    public static Identity guest(String name) {
        return new Identity(GUEST_PREFIX + name, name, List.of(), null);
    }

    public boolean guest() {
        return user.startsWith(GUEST_PREFIX);
    }
}
