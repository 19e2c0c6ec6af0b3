package io.parley.chat;

import io.parley.auth.Identity;

/**
 * Who may moderate a room: delete its messages, clear it, ban, time out, set slow mode, read its audit
 * log. Asked once per moderation request, by {@link RoomRequests}, before the request reaches the
 * engine; over WebSocket and HTTP alike. Slow mode asks it too, to let the room's moderators pass.
 *
 * <p>An implementation answers from memory (it is called on event loops, on the way of a request). The
 * server's is {@link RoomAccess#mayModerate} (server admins, and each room's owners and moderators,
 * stored or granted by the token), wired in one place, {@code ChatChannelInitializer}.
 */
@FunctionalInterface
public interface Moderators {

    boolean mayModerate(Identity who, String room);
}
