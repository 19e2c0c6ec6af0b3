package io.parley.chat;

import io.parley.auth.Identity;
import io.parley.config.ServerConfig;
import io.parley.engine.LocalBroker;
import io.parley.engine.PollListener;
import io.parley.engine.PublishListener;
import io.parley.store.StoredMessage;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The chat for clients without a session: one request at a time, each standing alone, as the HTTP API
 * makes them. Post a message, read a room, wait for its next message. The same rules as a session's
 * (names, rooms, ids, text, per-user rate, idempotency by id) apply, with the same error codes.
 * Reading needs no membership: the HTTP API has no {@code join}, and a room's messages are readable by
 * whoever may connect, as they are over WebSocket.
 *
 * <p>Threads: any event loop; stateless, never blocks.
 */
public final class RoomRequests {

    /** Longest a long poll may wait, so that proxies and load balancers do not cut it first. */
    public static final int MAX_WAIT_SECONDS = 30;
    private static final int DEFAULT_LIMIT = 50;

    private final LocalBroker broker;
    private final ServerConfig config;
    private final RateLimits limits;

    public RoomRequests(LocalBroker broker, ServerConfig config, RateLimits limits) {
        this.broker = broker;
        this.config = config;
        this.limits = limits;
    }

    /** Stores and broadcasts a message from {@code who}; the listener hears on {@code replyOn}. */
    public void post(Identity who, String room, String id, String text, Executor replyOn, PublishListener listener) {
        ChatRules.room(room);
        ChatRules.id(id);
        ChatRules.text(text, config.maxMessageLength());
        limits.userSends(who.user());
        try {
            broker.publish(replyOn, room, id, who.user(), who.name(), text, listener);
        } catch (LocalBroker.Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }

    /**
     * Messages after {@code since}; with {@code waitSeconds} above 0, waits for the next one if there
     * are none yet. The caller ends a wait that runs out with {@link LocalBroker.Poll#cancel()}.
     */
    public LocalBroker.Poll poll(String room, Long since, Integer limit, int waitSeconds, Executor replyOn,
                                 PollListener listener) {
        ChatRules.room(room);
        if (since == null) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "polling needs since");
        }
        long after = ChatRules.seq(since, "since");
        int max = ChatRules.limit(limit, DEFAULT_LIMIT);
        if (waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "wait must be 0-" + MAX_WAIT_SECONDS + " seconds");
        }
        try {
            return broker.poll(room, after, max, waitSeconds > 0, replyOn, listener);
        } catch (LocalBroker.Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }

    /** The messages just before {@code before}, or the latest when it is null; completes off the event loop. */
    public CompletableFuture<List<StoredMessage>> history(String room, Long before, Integer limit) {
        ChatRules.room(room);
        long beforeSeq = ChatRules.seq(before, "before");
        int max = ChatRules.limit(limit, DEFAULT_LIMIT);
        try {
            return broker.history(room, beforeSeq, -1, max);
        } catch (LocalBroker.Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }
}
