package io.parley.chat;

import io.parley.auth.Identity;
import io.parley.auth.RegisteredNames;
import io.parley.config.ServerConfig;
import io.parley.engine.Broker;
import io.parley.engine.MembersListener;
import io.parley.engine.Poll;
import io.parley.engine.PollListener;
import io.parley.engine.PublishListener;
import io.parley.engine.ReadQueue;
import io.parley.engine.Refused;
import io.parley.engine.RoomListing;
import io.parley.store.StoredMessage;

import java.net.InetAddress;
import java.util.List;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The requests that need no session: post a message, read a room, wait for its next message. The HTTP
 * API makes them one at a time; a WebSocket {@link ChatSession} posts and reads through here too, after
 * its own checks (said hello, is a member), so the rules (rooms, ids, text, rates, idempotency by id)
 * and their error codes are the same on both.
 * Reading needs no membership (the HTTP API has no {@code join}), only what {@link RoomAccess} asks of
 * joining: a public room's messages are readable by whoever may connect, a private room's by its members.
 * {@code who} is null for an anonymous HTTP reader.
 *
 * <p>Threads: any event loop; stateless, never blocks.
 */
public final class RoomRequests {

    /** Longest a long poll may wait, so that proxies and load balancers do not cut it first. */
    public static final int MAX_WAIT_SECONDS = 30;
    /** Messages a read returns when it names no {@code limit}. */
    private static final int DEFAULT_LIMIT = 50;
    /** Members a page lists when the request names no {@code limit}. */
    static final int DEFAULT_MEMBERS_LIMIT = 100;
    /** Rooms a rooms list names when the request names no {@code limit}, and at most. */
    static final int DEFAULT_ROOMS_LIMIT = 100;
    static final int MAX_ROOMS_LIMIT = 500;

    private final Broker broker;
    private final ServerConfig config;
    private final RateLimits limits;
    private final NameClaims names;
    private final RoomAccess access;

    /**
     * @param registered the accounts' names, which no guest may take a look-alike of
     * @param access     who may read and write which room
     */
    public RoomRequests(Broker broker, ServerConfig config, RateLimits limits, RegisteredNames registered,
                        RoomAccess access) {
        this.broker = broker;
        this.config = config;
        this.limits = limits;
        this.names = new NameClaims(registered);
        this.access = access;
    }

    /** Who may do what in which room; shared by every session and the HTTP API. */
    public RoomAccess access() {
        return access;
    }

    /** The names guests may not look like; shared by every session and the HTTP API. */
    NameClaims names() {
        return names;
    }

    /** The rate limits of one more connection, from {@code client} (null if unknown). */
    public RateLimits.Connection forConnection(InetAddress client) {
        return limits.forConnection(client);
    }

    /** One more connection's turn at the disk: close it with the connection, and its queued reads are dropped. */
    public ReadQueue.Asker asker() {
        return broker.asker();
    }

    /**
     * Stores and broadcasts a message from {@code who}, sent over {@code connection}; the listener hears
     * on {@code replyOn}. A message that breaks a rule counts against no rate.
     */
    public void post(Identity who, RateLimits.Connection connection, String room, String id, String text,
                     Executor replyOn, PublishListener listener) {
        ChatRules.room(room);
        ChatRules.id(id);
        ChatRules.text(text, config.maxMessageLength());
        access.checkWrite(who, room);
        // Checked at every send, not only at hello or join: the HTTP API has neither, and a signed-in
        // user may have shown up under that name since.
        if (who.guest()) {
            names.checkGuest(who, room);
        } else {
            names.signedIn(who);
        }
        connection.send();
        if (who.guest()) {
            connection.guestSend();
        }
        limits.userSends(who.user());
        try {
            broker.publish(replyOn, room, id, who.user(), who.name(), text, listener);
        } catch (Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }

    /**
     * Messages after {@code since}; with {@code waitSeconds} above 0, waits for the next one if there
     * are none yet. The caller ends a wait that runs out with {@link Poll#cancel()}. A read
     * from disk takes {@code asker}'s turn. A named poller ({@code who} not null) is a member of the
     * room while it keeps polling (the engine's leases); an anonymous one is nobody's presence.
     */
    public Poll poll(Identity who, ReadQueue.Asker asker, String room, Long since, Integer limit, int waitSeconds,
                     Executor replyOn, PollListener listener) {
        ChatRules.room(room);
        access.checkRead(who, room);
        if (who != null && who.guest()) {
            // Present in the room under that name: the same claims as a guest joining it.
            names.checkGuest(who, room);
        }
        if (since == null) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "polling needs since");
        }
        long after = ChatRules.seq(since, "since");
        int max = ChatRules.limit(limit, DEFAULT_LIMIT);
        if (waitSeconds < 0 || waitSeconds > MAX_WAIT_SECONDS) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "wait must be 0-" + MAX_WAIT_SECONDS + " seconds");
        }
        try {
            return broker.poll(asker, room, who == null ? null : who.user(), who == null ? null : who.name(), after, max,
                    waitSeconds > 0, replyOn, listener);
        } catch (Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }

    /**
     * One page of a room's members, those who joined after cursor {@code after} (null: from the
     * start), at most {@code limit} (null: {@value #DEFAULT_MEMBERS_LIMIT}); the listener hears on
     * {@code replyOn}. Like reading a room, it needs no membership here: the session checks that.
     */
    public void members(Identity who, String room, Long after, Integer limit, Executor replyOn,
                        MembersListener listener) {
        ChatRules.room(room);
        access.checkRead(who, room);
        if (after != null && after < 0) {
            throw new ChatException(ErrorCode.INVALID_CURSOR, "after must be a cursor from a members page");
        }
        if (limit != null && (limit < 1 || limit > Broker.MAX_MEMBERS_PAGE)) {
            throw new ChatException(ErrorCode.INVALID_CURSOR, "limit must be 1-" + Broker.MAX_MEMBERS_PAGE);
        }
        try {
            broker.members(room, after == null ? 0 : after, limit == null ? DEFAULT_MEMBERS_LIMIT : limit, replyOn,
                    listener);
        } catch (Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }

    /**
     * The rooms that exist, most recently active first, at most {@code limit} (null:
     * {@value #DEFAULT_ROOMS_LIMIT}, at most {@value #MAX_ROOMS_LIMIT}), with their member counts; the
     * one place the list is made, for the WebSocket {@code rooms} request and {@code GET /api/rooms}
     * alike, so that what {@code who} may see of it is decided here. Completes off the event loop, in
     * {@code asker}'s turn; fails with {@code StoreException} or {@code Refused}.
     *
     * @param who the asker, or null for an anonymous HTTP request
     */
    public CompletableFuture<List<ListedRoom>> rooms(Identity who, ReadQueue.Asker asker, Integer limit) {
        if (limit != null && (limit < 1 || limit > MAX_ROOMS_LIMIT)) {
            throw new ChatException(ErrorCode.INVALID_CURSOR, "limit must be 1-" + MAX_ROOMS_LIMIT);
        }
        int max = limit == null ? DEFAULT_ROOMS_LIMIT : limit;
        try {
            return broker.rooms(asker, max).thenApply(active -> visibleRooms(who, active, max));
        } catch (Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }

    /**
     * The one place a rooms list is made: the active rooms {@code who} may see (a private room only to
     * its people and admins, never its name to anyone else), each with its settings and {@code who}'s
     * role where it has a record; then the rooms with records {@code who} may see that have had no
     * message yet (a private room just made), up to {@code max}.
     */
    private List<ListedRoom> visibleRooms(Identity who, List<RoomListing> active, int max) {
        List<ListedRoom> out = new ArrayList<>();
        Set<String> listed = new HashSet<>();
        for (RoomListing r : active) {
            if (access.mayRead(who, r.room())) {
                out.add(new ListedRoom(r, access.listed(who, r.room())));
                listed.add(r.room());
            }
        }
        for (RoomAccess.Listed l : access.visible(who)) {
            if (out.size() >= max) {
                break;
            }
            if (listed.add(l.room().name())) {
                out.add(new ListedRoom(new RoomListing(l.room().name(), 0, 0, null), l));
            }
        }
        return out.size() > max ? out.subList(0, max) : out;
    }

    /**
     * A room in a rooms list: its activity, and its record with the asker's role (null: a room nobody
     * created, public, everyone writes).
     */
    public record ListedRoom(RoomListing activity, RoomAccess.Listed settings) { }

    /**
     * Stored messages: with {@code since}, those after it; with {@code before}, those just before it;
     * with neither, the latest. Completes off the event loop, in {@code asker}'s turn; never, if the asker
     * closes first.
     */
    public CompletableFuture<List<StoredMessage>> history(Identity who, ReadQueue.Asker asker, String room, Long before,
                                                          Long since, Integer limit) {
        ChatRules.room(room);
        access.checkRead(who, room);
        long beforeSeq = ChatRules.seq(before, "before");
        long sinceSeq = ChatRules.seq(since, "since");
        int max = ChatRules.limit(limit, DEFAULT_LIMIT);
        try {
            return broker.history(asker, room, beforeSeq, sinceSeq, max);
        } catch (Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }
}
