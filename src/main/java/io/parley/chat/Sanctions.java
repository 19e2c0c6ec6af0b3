package io.parley.chat;

import io.parley.engine.Broker;
import io.parley.store.AccountStore;
import io.parley.store.AuditEntry;
import io.parley.store.Sanction;
import io.parley.store.StoreException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The bans and timeouts of every room, and its slow mode, as this node enforces them, and the audit
 * log of every moderation action: a copy in memory of the database's
 * ({@link AccountStore#sanctions}), so that a join or a send asks a map, never the database.
 *
 * <p><b>Keeping the copy.</b> A ban or timeout made here is written to the database, then the copy is
 * read again, then the other nodes are told ({@link Broker#announce}, topic {@value #TOPIC}), which read
 * theirs again at once. Every {@value #RELOAD_SECONDS} s each node reads it again anyway, the backstop
 * when a notice is lost. <b>Bound:</b> a ban reaches every node within a Redis hop and one read, and
 * at worst within {@value #RELOAD_SECONDS} s plus a read.
 *
 * <p><b>Removing the banned.</b> Whenever a read finds a ban the copy did not have (made here, on
 * another node, or found by the periodic read), the user's sessions on this node leave the room at
 * once ({@link ChatSession#removeFrom}, on the session's event loop): the others see them leave.
 *
 * <p><b>Telling the timed out.</b> Likewise, whenever a read finds a timeout the copy did not have, or
 * with another end, or finds one gone before its end (lifted), the user's sessions on this node that are
 * in the room are told at once ({@link ChatSession#timeoutChanged}, on the session's event loop). Each
 * node tells its own sessions, so a user hears it once per session; a timeout that simply runs out is
 * not announced (the client knows its end).
 *
 * <p><b>Re-reads coalesce.</b> A notice, or the periodic timer, asks for a re-read ({@link #reloadSoon});
 * at most one waits on the worker at a time, and a request while one waits is already served by it.
 * The waiting one is marked started just before it reads, so a notice heard after that queues one more:
 * a ban written before its notice is always read by a re-read that starts after the notice. However
 * many notices arrive (many moderators on a big cluster, or a looping or hostile publisher on the
 * Redis channel), the worker holds at most one re-read waiting and one running, never a backlog of
 * redundant full reads ahead of the moderators' writes.
 *
 * <p><b>Moderators' requests are bounded.</b> A ban, unban, timeout, slow mode, audit log page, and
 * the audit entry of a deletion each take one of {@value #QUEUE} places until the worker is done with
 * it; with every place taken a new one is refused {@code overloaded} at once (503 with
 * {@code Retry-After} over HTTP), and one accepted is never dropped. Why {@value #QUEUE}: a ban is a
 * write, a full re-read, a notice and an audit row, 1.3 to 4.5 ms on SQLite with a few hundred bans
 * (measured in {@code SanctionsBoundsTest} on 2 shared cores: 256 in 0.3 to 1.2 s), so the last of
 * {@value #QUEUE} is enforced within about a second; hundreds of human moderators acting at once stay
 * below it, and a bot past it learns at once to slow down instead of pushing everyone's bans seconds
 * back. Memory is no concern at that size (a few hundred bytes a request).
 *
 * <p><b>Threads.</b> Lookups run on event loops and read a snapshot (a volatile map, replaced whole on
 * each read, never changed). Database work runs on one {@code parley-sanctions} thread, which holds at
 * most {@value #QUEUE} requests, one waiting re-read and the timer. Notices are heard on the broker's
 * thread and only flag a re-read. Sessions register at {@code hello} and leave at close, from their
 * event loops.
 */
public final class Sanctions implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Sanctions.class);
    /** How often every node reads the bans and timeouts again. */
    public static final int RELOAD_SECONDS = 2;
    /** The topic of the notice that tells other nodes to read again. */
    static final String TOPIC = "sanctions";
    /** Longest timeout a moderator may give: two weeks. */
    public static final int MAX_TIMEOUT_SECONDS = 14 * 24 * 3600;
    /** Moderators' requests the worker may hold (waiting or running); past it one is refused {@code overloaded}. */
    public static final int QUEUE = 256;
    /** What a refused moderator is told to wait before trying again. */
    private static final long RETRY_AFTER_MILLIS = 1000;

    private final AccountStore store;
    private final Broker broker;
    private final ScheduledExecutorService worker;
    /** Moderators' requests, in {@link #QUEUE} places. */
    private final BoundedRequests requests;
    /** Re-reads of the bans, timeouts and slow modes: one waits at most. */
    private final CoalescedRun reloads;
    /** Room, then user: the holding sanction of each kind. Replaced whole; never changed in place. */
    private volatile Map<String, Map<String, Sanction>> bans = Map.of();
    private volatile Map<String, Map<String, Sanction>> timeouts = Map.of();
    /** Room to its slow mode's seconds, for rooms where it is on. Replaced whole. */
    private volatile Map<String, Integer> slowModes = Map.of();
    /** When each (room, user) last sent in a room in slow mode, on this node: ms since the epoch. */
    private final Map<SlowKey, Long> lastSends = new ConcurrentHashMap<>();
    /** The sessions on this node, by user id: whom to remove when a ban is found. */
    private final Map<String, Set<ChatSession>> sessions = new ConcurrentHashMap<>();

    private Sanctions(AccountStore store, Broker broker, String threadPrefix) {
        this.store = store;
        this.broker = broker;
        this.worker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, threadPrefix + "-sanctions");
            t.setDaemon(true);
            return t;
        });
        this.requests = new BoundedRequests(worker, QUEUE, Sanctions::overloaded,
                () -> new ChatException(ErrorCode.SHUTTING_DOWN, "the server is shutting down; retry on another"));
        this.reloads = new CoalescedRun(worker, this::reload);
    }

    /**
     * Reads the bans and timeouts once (blocking: call it at start, not on an event loop), then keeps
     * them fresh: on other nodes' notices, and every {@value #RELOAD_SECONDS} s.
     */
    public static Sanctions start(AccountStore store, Broker broker, String threadPrefix) {
        return start(store, broker, threadPrefix, RELOAD_SECONDS);
    }

    /** As {@link #start(AccountStore, Broker, String)}, re-reading every {@code reloadSeconds}. */
    static Sanctions start(AccountStore store, Broker broker, String threadPrefix, int reloadSeconds) {
        Sanctions s = new Sanctions(store, broker, threadPrefix);
        s.reload();
        broker.onAnnouncement((room, topic) -> {
            if (topic.equals(TOPIC)) {
                s.reloadSoon();
            }
        });
        s.worker.scheduleWithFixedDelay(s::reloadSoon, reloadSeconds, reloadSeconds, TimeUnit.SECONDS);
        return s;
    }

    /**
     * Asks for a re-read: another node's notice (on the broker's thread) or the periodic timer. Never
     * blocks; when a re-read already waits, that one serves this request too.
     */
    void reloadSoon() {
        reloads.request();
    }

    /** Whether {@code user} is banned from {@code room}. Any thread. */
    public boolean banned(String room, String user) {
        Map<String, Sanction> inRoom = bans.get(room);
        return inRoom != null && inRoom.containsKey(user);
    }

    /** When {@code user}'s timeout in {@code room} ends, if it has not at {@code now}; else 0. Any thread. */
    public long timedOutUntil(String room, String user, long now) {
        Map<String, Sanction> inRoom = timeouts.get(room);
        Sanction t = inRoom == null ? null : inRoom.get(user);
        return t != null && t.until() > now ? t.until() : 0;
    }

    /** The slow mode of {@code room}: seconds between one user's messages, 0 when off. Any thread. */
    public int slowSeconds(String room) {
        return slowModes.getOrDefault(room, 0);
    }

    /**
     * A send of {@code user} to {@code room}, in slow mode of {@code seconds}, at {@code now}: 0 when it
     * may go (and it is counted), else the ms until it may. Per node, like the other rate limits. Any thread.
     */
    long slowSend(String room, String user, int seconds, long now) {
        long period = seconds * 1000L;
        long[] wait = {0};
        lastSends.compute(new SlowKey(room, user), (key, last) -> {
            if (last != null && now - last < period) {
                wait[0] = period - (now - last);
                return last;
            }
            return now;
        });
        return wait[0];
    }

    /** Sets a room's slow mode (0: off). Completes on the worker once stored. */
    CompletableFuture<Integer> putSlowMode(String room, int seconds, String by) {
        return requests.submit(() -> {
            long at = System.currentTimeMillis();
            store.putSlowMode(room, seconds, by, at);
            changed(room);
            logged(new AuditEntry(0, room, at, by, "slow", "", seconds + " s"));
            return seconds;
        });
    }

    /** Records {@code sanction} (a ban removes the user from the room on every node). Completes on the worker. */
    CompletableFuture<Sanction> put(Sanction sanction) {
        return requests.submit(() -> {
            store.putSanction(sanction);
            changed(sanction.room());
            logged(new AuditEntry(0, sanction.room(), sanction.at(), sanction.by(), sanction.kind(), sanction.user(),
                    sanction.kind().equals(Sanction.TIMEOUT) ? (sanction.until() - sanction.at()) / 1000 + " s" : ""));
            return sanction;
        });
    }

    /** Lifts a ban or timeout as moderator {@code by}; completes with whether there was one, on the worker. */
    CompletableFuture<Boolean> lift(String room, String user, String kind, String by) {
        return requests.submit(() -> {
            boolean lifted = store.removeSanction(room, user, kind);
            changed(room);
            logged(new AuditEntry(0, room, System.currentTimeMillis(), by,
                    kind.equals(Sanction.BAN) ? "unban" : Sanction.TIMEOUT, user, kind.equals(Sanction.BAN) ? "" : "0 s"));
            return lifted;
        });
    }

    /**
     * Takes a place for the audit entry of an action done elsewhere (a deletion, which the sequencer
     * does): taken before the action, so that a done action's entry is never refused. Give it to
     * {@link #audit} once the action is done, or back with {@link #release} if it did nothing.
     *
     * @throws ChatException {@code overloaded} when every place is taken
     */
    void reserve() {
        requests.reserve();
    }

    /** Gives back a place {@link #reserve}d for an action that did nothing. */
    void release() {
        requests.release();
    }

    /**
     * Adds a moderation action to the audit log, on the worker, in the place {@link #reserve}d for it.
     * A log that cannot be written is logged here, not refused to the moderator: the action itself is done.
     */
    void audit(AuditEntry entry) {
        try {
            worker.execute(() -> {
                try {
                    logged(entry);
                } finally {
                    requests.release();
                }
            });
        } catch (RejectedExecutionException e) {
            requests.release();
            log.error("the audit log missed {} of {} in room {} by {}: the server is stopping", entry.action(),
                    entry.target(), entry.room(), entry.by());
        }
    }

    private void logged(AuditEntry entry) {
        try {
            store.audit(entry);
        } catch (StoreException e) {
            log.error("the audit log missed {} of {} in room {} by {}: {}", entry.action(), entry.target(),
                    entry.room(), entry.by(), e.getMessage());
        }
    }

    /** A page of a room's audit log, newest first; completes on the worker. */
    CompletableFuture<List<AuditEntry>> auditLog(String room, long before, int limit) {
        return requests.submit(() -> store.audit(room, before, limit));
    }

    private static ChatException overloaded() {
        return new ChatException(ErrorCode.OVERLOADED, "too many moderation requests at once; retry in a second",
                RETRY_AFTER_MILLIS);
    }

    private void changed(String room) {
        reload();
        broker.announce(room, TOPIC);
    }

    /** A session of {@code user} on this node, from its hello. */
    void register(String user, ChatSession session) {
        sessions.computeIfAbsent(user, u -> ConcurrentHashMap.newKeySet()).add(session);
    }

    void unregister(String user, ChatSession session) {
        sessions.computeIfPresent(user, (u, set) -> {
            set.remove(session);
            return set.isEmpty() ? null : set;
        });
    }

    /** Reads every holding ban and timeout and slow mode; removes the newly banned here. Worker thread. */
    private void reload() {
        try {
            read();
        } catch (RuntimeException e) {
            // Not the database (read handles that): a bug. The thread must go on re-reading.
            log.error("applying bans and timeouts failed", e);
        }
    }

    private void read() {
        List<Sanction> all;
        Map<String, Integer> slow;
        long now = System.currentTimeMillis();
        try {
            all = store.sanctions(now);
            slow = store.slowModes();
        } catch (StoreException e) {
            // The copy stays as it was; the next read tries again.
            log.warn("reading bans and timeouts failed: {}", e.getMessage());
            return;
        }
        Map<String, Map<String, Sanction>> newBans = new HashMap<>();
        Map<String, Map<String, Sanction>> newTimeouts = new HashMap<>();
        for (Sanction x : all) {
            (x.kind().equals(Sanction.BAN) ? newBans : newTimeouts)
                    .computeIfAbsent(x.room(), r -> new HashMap<>()).put(x.user(), x);
        }
        Map<String, Map<String, Sanction>> before = bans;
        Map<String, Map<String, Sanction>> timeoutsBefore = timeouts;
        bans = newBans;
        timeouts = newTimeouts;
        slowModes = Map.copyOf(slow);
        // A send older than its room's slow period no longer holds anyone back.
        lastSends.entrySet().removeIf(e -> now - e.getValue() >= slowSeconds(e.getKey().room()) * 1000L);
        newBans.forEach((room, users) -> users.keySet().forEach(user -> {
            if (!before.getOrDefault(room, Map.of()).containsKey(user)) {
                remove(room, user);
            }
        }));
        newTimeouts.forEach((room, users) -> users.forEach((user, timeout) -> {
            Sanction old = timeoutsBefore.getOrDefault(room, Map.of()).get(user);
            if (old == null || old.until() != timeout.until()) {
                tell(room, user, timeout.until());
            }
        }));
        timeoutsBefore.forEach((room, users) -> users.forEach((user, old) -> {
            // Gone before its end: lifted (one that ran out is not news).
            if (old.until() > now && !newTimeouts.getOrDefault(room, Map.of()).containsKey(user)) {
                tell(room, user, 0);
            }
        }));
    }

    /** Tells {@code user}'s sessions here in {@code room} that its timeout now ends at {@code until} (0: none). */
    private void tell(String room, String user, long until) {
        for (ChatSession session : sessions.getOrDefault(user, Set.of())) {
            try {
                session.executor().execute(() -> session.timeoutChanged(room, until));
            } catch (RejectedExecutionException e) {
                // Its event loop is shutting down: nobody is left to tell.
            }
        }
    }

    private void remove(String room, String user) {
        for (ChatSession session : sessions.getOrDefault(user, Set.of())) {
            try {
                session.executor().execute(() -> session.removeFrom(room, ChatSession.REMOVED_BANNED));
            } catch (RejectedExecutionException e) {
                // Its event loop is shutting down: the connection goes with it, and so does its membership.
            }
        }
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }

    private record SlowKey(String room, String user) { }
}
