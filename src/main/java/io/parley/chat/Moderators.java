package io.parley.chat;

import io.parley.auth.Identity;

/**
 * Who may moderate a room: delete its messages and clear it. Asked once per moderation request, by
 * {@link RoomRequests}, before the request reaches the engine; over WebSocket and HTTP alike.
 *
 * <p>An implementation answers from memory (it is called on event loops, on the way of a request).
 * {@link #SERVER_ADMINS} is the rule of a server without room roles; the rooms' own owners and
 * moderators are another implementation's to add.
 */
@FunctionalInterface
public interface Moderators {

    /** The server's admins (an identity whose roles include {@value #ADMIN}) may moderate every room. */
    Moderators SERVER_ADMINS = (who, room) -> who.roles().contains(Moderators.ADMIN);

    /** The role, from a token or an account ({@code parley user role NAME admin}), of a server admin. */
    String ADMIN = "admin";

    boolean mayModerate(Identity who, String room);
}
