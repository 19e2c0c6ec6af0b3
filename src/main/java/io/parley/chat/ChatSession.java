package io.parley.chat;

import io.parley.auth.Identity;
import io.parley.config.ServerConfig;
import io.parley.engine.Broker;
import io.parley.engine.DeleteListener;
import io.parley.engine.Failure;
import io.parley.engine.JoinListener;
import io.parley.engine.MembersListener;
import io.parley.engine.PublishListener;
import io.parley.engine.ReadQueue;
import io.parley.engine.Refused;
import io.parley.engine.Replay;
import io.parley.engine.RoomListing;
import io.parley.engine.Subscriber;
import io.parley.engine.Subscription;
import io.parley.engine.Tombstones;
import io.parley.store.StoredMessage;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * One client's conversation with the chat: who it is and which rooms it is in, and the rules every
 * request must pass before it reaches the engine (field rules, membership, rate limits).
 *
 * <p>Who it is: a connection that showed a token at the handshake is that token's user, whatever name
 * its {@code hello} asks for; one without is a guest, {@code guest:<name>}. Messages are stored and
 * rate-limited under that user id, so nobody can send as someone else. A guest's name must also not
 * look like a signed-in user's or like another member's of a room it joins ({@link NameClaims}).
 *
 * <p>Threads: confined to the connection's event loop. The transport calls it from there, and the
 * engine calls the listeners back there, so nothing here is shared. It never blocks: joins, sends and
 * history reads are handed to the engine and answered through listeners or futures.
 */
public final class ChatSession {

    /**
     * Sends of one connection the engine holds before the connection stops being read. The engine's
     * queue is shared by everyone; this keeps one flooding connection from filling it and getting other
     * people's messages refused. Pausing, not refusing: TCP slows the sender down and nothing is lost.
     * Reading resumes when half of them are answered.
     */
    static final int MAX_IN_FLIGHT = 256;
    /**
     * History requests of one connection that may be unanswered at once; another gets
     * {@code rate_limited}. A client pages back one reply at a time; a few allow reading several rooms
     * at once. Without it one connection could queue reads faster than the disk answers (seen: 43,557
     * from 64 clients in 25 s), and each reply is up to about 1 MiB of JSON held for it.
     */
    static final int MAX_HISTORY_IN_FLIGHT = 4;

    private final Broker broker;
    private final ServerConfig config;
    private final Subscriber connection;
    private final ReadControl reading;
    private final String id;
    /** The token's user, or null for a guest; replaced by {@link #renew}. */
    private Identity authenticated;
    private final RoomRequests requests;
    private final RateLimits.Connection connectionLimits;
    private final Map<String, Subscription> rooms = new HashMap<>();
    /** Set by {@code hello}. */
    private Identity identity;
    private boolean closed;
    /** Sends handed to the engine and not yet answered. */
    private int inFlight;
    /** History requests handed to the engine and not yet answered. */
    private int historyInFlight;
    /** Joins handed to the engine and not yet answered, rooms left since included. */
    private int joinsInFlight;
    /** This connection's turn at the disk; closed with it. */
    private final ReadQueue.Asker reads;
    /** Who may do what in which room; this session is its occupant in the rooms it is in. */
    private final RoomAccess access;
    private final RoomAccess.Occupant occupant = new RoomAccess.Occupant() {
        @Override
        public java.util.concurrent.Executor executor() {
            return connection.executor();
        }

        @Override
        public void recheck(String room) {
            ChatSession.this.recheck(room);
        }
    };
    /** Told when this session is taken out of a room it may no longer read. */
    private Removals removals = (room, reason) -> { };

    /** Why a session was taken out of a room: its access to the room was revoked (a role, a private room). */
    public static final String REMOVED_ACCESS_REVOKED = "access_revoked";
    /** Why a session was taken out of a room: a moderator banned its user. */
    public static final String REMOVED_BANNED = "banned";

    /** Hears that the server took this connection out of a room; on the connection's event loop. */
    public interface Removals {
        /** @param reason why, a stable code: {@value #REMOVED_ACCESS_REVOKED} or {@value #REMOVED_BANNED} */
        void removed(String room, String reason);
    }

    /** Hears that this user's timeout in a room it is in was set or lifted; on the connection's event loop. */
    public interface TimeoutChanges {
        /** @param until when the timeout ends, ms since the epoch; 0 when it was lifted */
        void changed(String room, String user, long until);
    }

    /** Told when a timeout of this session's user is set or lifted in a room it is in. */
    private TimeoutChanges timeoutChanges = (room, user, until) -> { };

    /**
     * @param authenticated the user a token proved at the handshake, or null for a guest
     * @param client        the address the connection is from (behind a trusted proxy, the client's), for
     *                      the per-address limit on guests; null if unknown
     */
    public ChatSession(Broker broker, RoomRequests requests, ServerConfig config, Subscriber connection,
                       ReadControl reading, String id, Identity authenticated, InetAddress client) {
        this.broker = broker;
        this.requests = requests;
        this.config = config;
        this.connection = connection;
        this.reading = reading;
        this.id = id;
        this.authenticated = authenticated;
        this.connectionLimits = requests.forConnection(client);
        this.reads = requests.asker();
        this.access = requests.access();
    }

    /** Who hears of this session's removals from rooms (the protocol layer); set once, before hello. */
    public void onRemoved(Removals listener) {
        this.removals = listener;
    }

    /** Who hears of timeouts set or lifted for this user (the protocol layer); set once, before hello. */
    public void onTimeoutChanged(TimeoutChanges listener) {
        this.timeoutChanges = listener;
    }

    public String id() {
        return id;
    }

    /** Who this connection is, once it said hello; null before. */
    public Identity identity() {
        return identity;
    }

    /**
     * Counts one request against the connection's request rate; every frame comes through here first.
     *
     * @throws ChatException {@code rate_limited}
     */
    public void request() {
        connectionLimits.request();
    }

    /**
     * Starts the conversation. A user is named by the token and {@code requested} is ignored; a guest
     * must give a name. Returns who the connection is.
     */
    public Identity hello(String requested) {
        if (identity != null) {
            throw new ChatException(ErrorCode.ALREADY_GREETED, "hello was already said on this connection");
        }
        Identity who = authenticated != null ? authenticated : guest(requested);
        if (who.guest()) {
            requests.names().checkGuest(who);
        } else {
            requests.names().signedIn(who);
        }
        identity = who;
        if (requests.sanctions() != null) {
            requests.sanctions().register(who.user(), this);
        }
        return identity;
    }

    /**
     * A fresh token for this connection, shown before the old one ran out. It must name the same user.
     * The connection keeps the name it chats under (the room saw it join by that name); roles and
     * expiry are the new token's. Returns the identity from now on.
     */
    public Identity renew(Identity renewed) {
        if (authenticated == null) {
            throw new ChatException(ErrorCode.FORBIDDEN,
                    "a guest connection has no token to refresh; reconnect with a token");
        }
        if (!renewed.user().equals(authenticated.user())) {
            throw new ChatException(ErrorCode.FORBIDDEN, "the token is for another user than this connection's ("
                    + authenticated.user() + "); reconnect to change users");
        }
        authenticated = new Identity(authenticated.user(), authenticated.name(), renewed.roles(), renewed.validUntil(),
                renewed.rooms());
        if (identity != null) {
            identity = authenticated;
            // The new token may grant fewer rooms than the old.
            List.copyOf(rooms.keySet()).forEach(this::recheck);
        }
        return authenticated;
    }

    /** A guest's identity from the name it asked for, by the rules of {@link io.parley.auth.DisplayNames}. */
    public static Identity guest(String requested) {
        if (requested == null) {
            throw new ChatException(ErrorCode.INVALID_NAME, "a guest must give a name");
        }
        return Identity.guest(ChatRules.name(requested));
    }

    /** Joins a room; {@code since} null asks for the newest messages, else for those after it. */
    public void join(String room, Long since, JoinListener listener) {
        requireHello();
        ChatRules.room(room);
        long after = ChatRules.seq(since, "since");
        if (rooms.containsKey(room)) {
            throw new ChatException(ErrorCode.ALREADY_MEMBER, "already in room " + room);
        }
        if (rooms.size() >= config.maxRoomsPerConnection()) {
            throw new ChatException(ErrorCode.TOO_MANY_ROOMS,
                    "at most " + config.maxRoomsPerConnection() + " rooms per connection");
        }
        // Leaving does not take back a join's read from disk: without this, join and leave in a loop
        // would queue reads without end.
        if (joinsInFlight >= config.maxRoomsPerConnection()) {
            throw new ChatException(ErrorCode.RATE_LIMITED, "at most " + config.maxRoomsPerConnection()
                    + " joins may be unanswered on one connection; wait for their replies");
        }
        // An occupant before the check: a change applied after it re-checks this session, one applied
        // before it is what it sees. A private room is not_found before a ban is named.
        access.enter(room, occupant);
        try {
            access.checkRead(identity, room);
            if (requests.banned(identity, room)) {
                throw new ChatException(ErrorCode.BANNED, "you are banned from room " + room);
            }
            requests.names().enter(room, identity);
        } catch (ChatException e) {
            access.exit(room, occupant);
            throw e;
        }
        TrackedJoin tracked = new TrackedJoin(room, listener);
        try {
            tracked.subscription = broker.subscribe(room, connection, identity.user(), identity.name(), after, reads,
                    tracked);
        } catch (Refused e) {
            requests.names().leave(room, identity);
            access.exit(room, occupant);
            throw refused(e.failure());
        }
        joinsInFlight++;
        rooms.put(room, tracked.subscription);
    }

    /** Forgets a join that failed, unless the room was left and joined again meanwhile. */
    private final class TrackedJoin implements JoinListener {
        private final String room;
        private final JoinListener listener;
        private Subscription subscription;

        TrackedJoin(String room, JoinListener listener) {
            this.room = room;
            this.listener = listener;
        }

        @Override
        public void joined(int members, Replay replay) {
            joinsInFlight--;
            listener.joined(members, replay);
        }

        @Override
        public void failed(Failure failure) {
            joinsInFlight--;
            if (rooms.remove(room, subscription)) {
                requests.names().leave(room, identity);
                access.exit(room, occupant);
            }
            listener.failed(failure);
        }
    }

    public void leave(String room) {
        requireHello();
        Subscription s = rooms.remove(ChatRules.room(room));
        if (s == null) {
            throw notMember(room);
        }
        requests.names().leave(room, identity);
        access.exit(room, occupant);
        broker.unsubscribe(s);
    }

    /**
     * The rules of a room this session is in changed (a role revoked, a room made private): if they no
     * longer let it read the room, it leaves, and the client hears {@code removed}. On the event loop.
     */
    void recheck(String room) {
        if (closed || identity == null || !rooms.containsKey(room)) {
            return;
        }
        try {
            access.checkRead(identity, room);
        } catch (ChatException e) {
            takeOut(room, REMOVED_ACCESS_REVOKED);
        }
    }

    public void send(String room, String messageId, String text, PublishListener listener) {
        requireMember(room);
        PublishListener counted = new PublishListener() {
            @Override
            public void stored(StoredMessage message) {
                answered();
                listener.stored(message);
            }

            @Override
            public void failed(Failure failure) {
                answered();
                listener.failed(failure);
            }
        };
        requests.post(identity, connectionLimits, room, messageId, text, connection.executor(), counted);
        if (++inFlight == MAX_IN_FLIGHT) {
            reading.pauseReading();
        }
    }

    private void answered() {
        if (inFlight-- == MAX_IN_FLIGHT / 2) {
            reading.resumeReading();
        }
    }

    /**
     * Deletes a message, or (with {@code clear}) every message up to {@code seq}, as this connection's
     * user; the room need not be joined. The listener hears on the connection's loop.
     *
     * @throws ChatException {@code forbidden} when the user may not moderate the room
     */
    public void delete(String room, Long seq, boolean clear, DeleteListener listener) {
        requireHello();
        if (clear) {
            requests.clear(identity, room, seq, connection.executor(), listener);
        } else {
            requests.delete(identity, room, seq, connection.executor(), listener);
        }
    }

    /** The rooms list ({@link RoomRequests#rooms}); completes off the event loop. */
    public CompletableFuture<List<RoomRequests.ListedRoom>> rooms(Integer limit) {
        requireHello();
        return requests.rooms(identity, reads, limit);
    }

    /** One page of the members of a room this client is in; the listener hears on the connection's loop. */
    public void members(String room, Long after, Integer limit, MembersListener listener) {
        requireMember(room);
        requests.members(identity, room, after, limit, connection.executor(), listener);
    }

    /**
     * Stored messages of a room this client is in. The future completes on a reader thread; never, if
     * the connection closes first.
     *
     * @throws ChatException {@code rate_limited} while {@link #MAX_HISTORY_IN_FLIGHT} are unanswered,
     *                       {@code overloaded} when the server's read queue is full
     */
    public CompletableFuture<List<StoredMessage>> history(String room, Long before, Long since, Integer limit) {
        requireMember(room);
        if (historyInFlight >= MAX_HISTORY_IN_FLIGHT) {
            throw new ChatException(ErrorCode.RATE_LIMITED, "at most " + MAX_HISTORY_IN_FLIGHT
                    + " history requests may be unanswered on one connection; wait for a reply");
        }
        CompletableFuture<List<StoredMessage>> read = requests.history(identity, reads, room, before, since, limit);
        historyInFlight++;
        // Registered before the caller's reply: it is posted to the loop first, so the count is down
        // before the reply can leave (its flush is a task of its own, after this one).
        read.whenComplete((messages, failure) -> connection.executor().execute(() -> historyInFlight--));
        return read;
    }

    /**
     * What of a history reply may go out now: for a room this connection is in, nothing newer than the
     * live messages it has been handed. History is read off the event loop and may find a message that is
     * stored but not yet fanned out to this connection; that message comes live right after the reply,
     * and sent in the reply as well it would arrive twice. Call it on the event loop, in the task that
     * writes the reply.
     */
    public List<StoredMessage> notAheadOfLive(String room, List<StoredMessage> messages) {
        Subscription s = rooms.get(room);
        if (s == null || messages.isEmpty() || messages.getLast().seq() <= s.handedUpTo()) {
            return messages;
        }
        long upTo = s.handedUpTo();
        return messages.stream().filter(m -> m.seq() <= upTo).toList();
    }

    /** The moderation requests a moderator makes through this session (ban, unban, timeout). */
    public RoomRequests requests() {
        return requests;
    }

    /** Who this connection is, for a request that needs it: {@code hello_required} before hello. */
    public Identity identityOrRefuse() {
        requireHello();
        return identity;
    }

    /** The event loop this session is confined to. */
    Executor executor() {
        return connection.executor();
    }

    /**
     * Takes the session out of {@code room} (a moderator banned its user): it leaves as by {@code leave},
     * so the others see it go, and the client is told why. On the connection's loop.
     */
    void removeFrom(String room, String reason) {
        if (closed || !rooms.containsKey(room)) {
            return;
        }
        takeOut(room, reason);
    }

    /**
     * A moderator set (or, with {@code until} 0, lifted) this user's timeout in {@code room}: the client
     * hears it if this session is in the room. On the connection's loop.
     */
    void timeoutChanged(String room, long until) {
        if (closed || !rooms.containsKey(room)) {
            return;
        }
        timeoutChanges.changed(room, identity.user(), until);
    }

    /**
     * When this user's timeout in {@code room} ends, ms since the epoch, or 0 when it is not timed out
     * there (for the {@code joined} reply). An in-memory lookup, on the event loop.
     */
    public long timedOutUntil(String room) {
        Sanctions sanctions = requests.sanctions();
        return identity == null || sanctions == null ? 0
                : sanctions.timedOutUntil(room, identity.user(), System.currentTimeMillis());
    }

    /** Leaves {@code room} as by {@code leave} and tells the client {@code removed} with {@code reason}. */
    private void takeOut(String room, String reason) {
        Subscription s = rooms.remove(room);
        requests.names().leave(room, identity);
        access.exit(room, occupant);
        broker.unsubscribe(s);
        removals.removed(room, reason);
    }

    /**
     * The connection is gone: leave every room. Its entries linger in the rooms' presence for the grace,
     * so that the same user reconnecting (or polling) within it is no news to the room.
     */
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (identity != null && requests.sanctions() != null) {
            requests.sanctions().unregister(identity.user(), this);
        }
        reads.close();
        rooms.values().forEach(broker::disconnect);
        rooms.keySet().forEach(room -> {
            requests.names().leave(room, identity);
            access.exit(room, occupant);
        });
        rooms.clear();
    }

    /** What a client is told when the engine turns a request down. */
    public static ChatException refused(Failure failure) {
        return switch (failure) {
            case OVERLOADED -> new ChatException(ErrorCode.OVERLOADED, "the server is overloaded; retry with backoff");
            case STORE_UNAVAILABLE -> new ChatException(ErrorCode.STORE_UNAVAILABLE,
                    "the message store is unavailable; nothing was delivered, retry");
            case SHUTTING_DOWN -> new ChatException(ErrorCode.SHUTTING_DOWN, "the server is shutting down; reconnect");
            case ID_REUSED -> new ChatException(ErrorCode.ID_REUSED,
                    "this id is already used for another message of yours in this room; a new message needs a new id");
        };
    }

    /** What a moderator is told when a {@code delete} found no message to delete. */
    public static ChatException nothingToDelete(Tombstones t) {
        return new ChatException(ErrorCode.NO_SUCH_MESSAGE, "room " + t.room() + " has no message " + t.upTo()
                + " to delete: it was deleted already, or it is not stored");
    }

    /** Who may do what in which room: the room requests of this session go there. */
    public RoomAccess access() {
        return access;
    }

    /** @throws ChatException {@code hello_required} before hello */
    public void requireHello() {
        if (identity == null) {
            throw new ChatException(ErrorCode.HELLO_REQUIRED, "say hello first");
        }
    }

    private void requireMember(String room) {
        requireHello();
        if (!rooms.containsKey(ChatRules.room(room))) {
            throw notMember(room);
        }
    }

    private static ChatException notMember(String room) {
        return new ChatException(ErrorCode.NOT_MEMBER, "not in room " + room);
    }
}
