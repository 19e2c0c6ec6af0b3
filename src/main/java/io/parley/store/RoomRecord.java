package io.parley.store;

import java.util.Map;
import java.util.Objects;

/**
 * A room created explicitly, with its settings and its people. A room nobody created (joined into being
 * under {@code --rooms-on-join create}) has no record: it is public, everyone may write, and nobody
 * owns it.
 *
 * @param name      the room's name
 * @param kind      {@code public} (anyone may read) or {@code private} (members only, and hidden)
 * @param write     who may write in a public room: {@code everyone}, {@code signed_in} or {@code members}
 * @param createdBy the user id that created it (an admin, or a signed-in user)
 * @param createdAt when, ms since the epoch
 * @param roles     user id to room role ({@code owner}, {@code moderator}, {@code member})
 */
public record RoomRecord(String name, String kind, String write, String createdBy, long createdAt,
                         Map<String, String> roles) {

    public static final String PUBLIC = "public";
    public static final String PRIVATE = "private";
    public static final String EVERYONE = "everyone";
    public static final String SIGNED_IN = "signed_in";
    public static final String MEMBERS = "members";
    public static final String OWNER = "owner";
    public static final String MODERATOR = "moderator";
    public static final String MEMBER = "member";

    public RoomRecord {
        Objects.requireNonNull(name, "name");
        if (!isKind(kind)) {
            throw new IllegalArgumentException("kind must be public or private, was " + kind);
        }
        if (!isWrite(write)) {
            throw new IllegalArgumentException("write must be everyone, signed_in or members, was " + write);
        }
        roles = Map.copyOf(roles);
    }

    public static boolean isKind(String kind) {
        return PUBLIC.equals(kind) || PRIVATE.equals(kind);
    }

    public static boolean isWrite(String write) {
        return EVERYONE.equals(write) || SIGNED_IN.equals(write) || MEMBERS.equals(write);
    }

    public static boolean isRole(String role) {
        return OWNER.equals(role) || MODERATOR.equals(role) || MEMBER.equals(role);
    }

    public boolean isPrivate() {
        return PRIVATE.equals(kind);
    }

    /** The same room with other settings, its people unchanged. */
    public RoomRecord withSettings(String newKind, String newWrite) {
        return new RoomRecord(name, newKind, newWrite, createdBy, createdAt, roles);
    }
}
