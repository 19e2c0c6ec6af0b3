package io.parley.chat;

import io.parley.auth.Identity;
import io.parley.auth.RegisteredNames;
import io.parley.config.ServerConfig;
import io.parley.engine.Broker;
import io.parley.engine.DeleteListener;
import io.parley.engine.Failure;
import io.parley.engine.MembersListener;
import io.parley.engine.Poll;
import io.parley.engine.PollListener;
import io.parley.engine.PublishListener;
import io.parley.engine.ReadQueue;
import io.parley.engine.Refused;
import io.parley.engine.RoomListing;
import io.parley.engine.Tombstones;
import io.parley.store.AuditEntry;
import io.parley.store.Sanction;
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
    private final Moderators moderators;
    private final Sanctions sanctions;

    /**
     * Requests of a server that records no bans or timeouts (engine tests): moderation requests that
     * need the database are refused; who may moderate is {@code access}'s rule.
     *
     * @param registered the accounts' names, which no guest may take a look-alike of
     * @param access     who may read and write which room
     */
    public RoomRequests(Broker broker, ServerConfig config, RateLimits limits, RegisteredNames registered,
                        RoomAccess access) {
        this(broker, config, limits, registered, access, access::mayModerate, null);
    }

    /**
     * @param registered the accounts' names, which no guest may take a look-alike of
     * @param access     who may read and write which room
     * @param moderators who may moderate a room, asked once per moderation request
     * @param sanctions  the bans and timeouts every join and send is checked against; null on a server
     *                   that records none
     */
    public RoomRequests(Broker broker, ServerConfig config, RateLimits limits, RegisteredNames registered,
                        RoomAccess access, Moderators moderators, Sanctions sanctions) {
        this.broker = broker;
        this.config = config;
        this.limits = limits;
        this.names = new NameClaims(registered);
        this.access = access;
        this.moderators = moderators;
        this.sanctions = sanctions;
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
        long now = System.currentTimeMillis();
        refuseSanctioned(who, room, now);
        connection.send();
        if (who.guest()) {
            connection.guestSend();
        }
        limits.userSends(who.user());
        slowMode(who, room, now);
        try {
            broker.publish(replyOn, room, id, who.user(), who.name(), text, listener);
        } catch (Refused e) {
            throw ChatSession.refused(e.failure());
        }
    }

    /**
     * Deletes message {@code seq} of {@code room}, as moderator {@code who}; the listener hears on
     * {@code replyOn}, with no seqs in its {@link Tombstones} when there was no such message to delete.
     *
     * @throws ChatException {@code forbidden} when {@code who} may not moderate the room
     */
    public void delete(Identity who, String room, Long seq, Executor replyOn, DeleteListener listener) {
        long target = ChatRules.messageSeq(seq, "seq");
        tombstone(who, room, target - 1, target, replyOn, listener);
    }

    /**
     * Clears {@code room} up to and including {@code upTo}: every message not deleted yet becomes a
     * tombstone, as moderator {@code who}.
     *
     * @throws ChatException {@code forbidden} when {@code who} may not moderate the room
     */
    public void clear(Identity who, String room, Long upTo, Executor replyOn, DeleteListener listener) {
        tombstone(who, room, 0, ChatRules.messageSeq(upTo, "upTo"), replyOn, listener);
    }

    private void tombstone(Identity who, String room, long after, long upTo, Executor replyOn,
                           DeleteListener listener) {
        requireModerator(who, room);
        // The audit entry's place is taken before the deletion: a deletion done is always logged.
        sanctions.reserve();
        DeleteListener logged = new DeleteListener() {
            @Override
            public void deleted(Tombstones t) {
                if (t.seqs().isEmpty()) {
                    sanctions.release();
                } else {
                    sanctions.audit(new AuditEntry(0, room, t.at(), t.by(), t.single() ? "delete" : "clear",
                            t.single() ? Long.toString(t.upTo()) : t.seqs().getFirst() + "-" + t.upTo(),
                            t.single() ? "" : t.seqs().size() + " messages"));
                }
                listener.deleted(t);
            }

            @Override
            public void failed(Failure failure) {
                sanctions.release();
                listener.failed(failure);
            }
        };
        try {
            broker.delete(replyOn, room, after, upTo, who.user(), logged);
        } catch (Refused e) {
            sanctions.release();
            throw ChatSession.refused(e.failure());
        }
    }

    /** The one permission check of every moderation request, for every transport. */
    private void requireModerator(Identity who, String room) {
        ChatRules.room(room);
        // A private room is not_found to whoever may not see it, moderation requests included; its
        // moderators are its members, so they pass.
        access.checkRead(who, room);
        if (!moderators.mayModerate(who, room)) {
            throw new ChatException(ErrorCode.FORBIDDEN, "only the room's moderators may do this");
        }
        if (sanctions == null) {
            throw new ChatException(ErrorCode.FORBIDDEN, "this server keeps no moderation");
        }
    }

    /**
     * Refuses a send of a user banned from the room ({@code banned}) or timed out there ({@code timed_out},
     * with when it ends); a join asks {@link #banned}. In-memory lookups.
     */
    void refuseSanctioned(Identity who, String room, long now) {
        if (sanctions == null) {
            return;
        }
        if (sanctions.banned(room, who.user())) {
            throw new ChatException(ErrorCode.BANNED, "you are banned from room " + room);
        }
        long until = sanctions.timedOutUntil(room, who.user(), now);
        if (until > 0) {
            throw new ChatException(ErrorCode.TIMED_OUT, "you may not send to room " + room + " until " + until,
                    until - now, until);
        }
    }

    /**
     * Refuses a send that comes sooner after the user's last one in the room than the room's slow mode
     * allows ({@code slow_mode}, with {@code retryAfter}); the room's moderators are exempt. In memory.
     */
    private void slowMode(Identity who, String room, long now) {
        if (sanctions == null) {
            return;
        }
        int seconds = sanctions.slowSeconds(room);
        if (seconds == 0 || moderators.mayModerate(who, room)) {
            return;
        }
        long wait = sanctions.slowSend(room, who.user(), seconds, now);
        if (wait > 0) {
            throw new ChatException(ErrorCode.SLOW_MODE, "room " + room + " is in slow mode: one message every "
                    + seconds + " s", wait);
        }
    }

    /** The longest slow mode: an hour between messages. */
    public static final int MAX_SLOW_SECONDS = 3600;

    /** Sets {@code room}'s slow mode to {@code seconds} (0: off), as moderator {@code who}. */
    public CompletableFuture<Integer> slow(Identity who, String room, Long seconds) {
        requireModerator(who, room);
        if (seconds == null || seconds < 0 || seconds > MAX_SLOW_SECONDS) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "seconds must be 0-" + MAX_SLOW_SECONDS);
        }
        return sanctions.putSlowMode(room, seconds.intValue(), who.user());
    }

    /** Audit log entries a page returns when the request names no {@code limit}, and at most. */
    public static final int DEFAULT_AUDIT_LIMIT = 50;
    static final int MAX_AUDIT_LIMIT = 500;

    /**
     * A page of {@code room}'s audit log, newest first: entries with ids below {@code before} (null:
     * from the newest), at most {@code limit}. Moderators only. Completes off the event loop.
     */
    public CompletableFuture<List<AuditEntry>> audit(Identity who, String room, Long before, Integer limit) {
        requireModerator(who, room);
        if (before != null && before < 1) {
            throw new ChatException(ErrorCode.INVALID_CURSOR, "before must be an entry's id");
        }
        if (limit != null && (limit < 1 || limit > MAX_AUDIT_LIMIT)) {
            throw new ChatException(ErrorCode.INVALID_CURSOR, "limit must be 1-" + MAX_AUDIT_LIMIT);
        }
        return sanctions.auditLog(room, before == null ? Long.MAX_VALUE : before,
                limit == null ? DEFAULT_AUDIT_LIMIT : limit);
    }

    /** Whether {@code who} is banned from {@code room}; in memory. */
    boolean banned(Identity who, String room) {
        return sanctions != null && sanctions.banned(room, who.user());
    }

    /** This node's sessions, for removing the newly banned; null on a server that records no bans. */
    Sanctions sanctions() {
        return sanctions;
    }

    /**
     * Bans {@code user} from {@code room} as moderator {@code who}: recorded, and the user's sessions on
     * every node leave the room. Completes off the event loop once the ban is in the database.
     *
     * @throws ChatException {@code forbidden} when {@code who} may not moderate the room
     */
    public CompletableFuture<Sanction> ban(Identity who, String room, String user) {
        requireModerator(who, room);
        ChatRules.userId(user);
        return sanctions.put(new Sanction(room, user, Sanction.BAN, 0, who.user(), System.currentTimeMillis()));
    }

    /** Lifts a ban; completes with whether there was one. Same rules as {@link #ban}. */
    public CompletableFuture<Boolean> unban(Identity who, String room, String user) {
        requireModerator(who, room);
        ChatRules.userId(user);
        return sanctions.lift(room, user, Sanction.BAN, who.user());
    }

    /**
     * Times {@code user} out of {@code room} for {@code seconds} (1 to two weeks; 0 lifts a timeout): the
     * user may read but not send until then. Same rules as {@link #ban}.
     */
    public CompletableFuture<Sanction> timeout(Identity who, String room, String user, Long seconds) {
        requireModerator(who, room);
        ChatRules.userId(user);
        if (seconds == null || seconds < 0 || seconds > Sanctions.MAX_TIMEOUT_SECONDS) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "seconds must be 0-" + Sanctions.MAX_TIMEOUT_SECONDS);
        }
        long now = System.currentTimeMillis();
        Sanction timeout = new Sanction(room, user, Sanction.TIMEOUT, now + seconds * 1000, who.user(), now);
        return seconds == 0 ? sanctions.lift(room, user, Sanction.TIMEOUT, who.user()).thenApply(lifted -> timeout)
                : sanctions.put(timeout);
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
