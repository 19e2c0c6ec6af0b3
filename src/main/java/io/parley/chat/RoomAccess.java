package io.parley.chat;

import io.parley.auth.Identity;
import io.parley.store.RoomRecord;
import io.parley.store.RoomStore;
import io.parley.store.StoreException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Who may do what in which room (docs/PROTOCOL.md, "Rooms and roles"): the room records, the rules that
 * read them, and the changes to them.
 *
 * <p><b>The rules.</b> A room without a record is public, everyone may write, nobody owns it (a room
 * joined into being, as before rooms had records); under {@code --rooms-on-join refuse} it does not
 * exist ({@code not_found}) except for server admins. A public room may be read by anyone and written
 * by whom its {@code write} setting says. A private room is joined, read and written by its members
 * only (any room role, stored or granted by the token's {@code rooms} claim); to anyone else it does not
 * exist ({@code not_found}, its name never confirmed). A server admin may do everything everywhere.
 * Owners and admins change settings and grant or revoke any role; moderators may grant and revoke the
 * {@code member} role only (they invite people into a private room and take them out), and
 * {@link #mayModerate} is the one check moderation asks.
 *
 * <p><b>Where state lives.</b> In the database ({@link RoomStore}); every node keeps every record in
 * {@link #rooms}, so each check is one hash lookup and, for the write setting {@code members} or a
 * private room, one more in the room's role map: no I/O and no lock on the send path. A change is made
 * on this node's {@value #THREAD} thread (write, read back, replace the cached record), then announced
 * ({@link #announceWith}: over Redis between nodes, see {@code RoomNotices}); a node that hears of it
 * reads that room again. Every {@link #RELOAD} each node reads every room again, the backstop for a
 * notice lost on the way (Redis down). Whoever is in a room on this node is checked again whenever its
 * record changes, and a session that may no longer read it is taken out with a {@code removed} event.
 *
 * <p><b>Re-reads coalesce.</b> A notice of room R queues a read of R only if none waits already; the
 * waiting one takes R off {@link #waiting} just before it reads, so a notice heard after that queues
 * exactly one more, and a change written before its notice is always read by a read that starts after
 * the notice. The reload of every room (the timer's) coalesces the same way ({@link #reloadSoon}), and
 * while one waits it serves every notice. At most {@value #WAITING_ROOMS} rooms wait for a read of
 * their own; a notice of one more asks for the reload of every room instead, so a flood of made-up
 * names (a looping or hostile publisher on the channel) costs at most that many reads of one room and
 * one of every room at a time, a set of at most that many names (64 characters each), and loses
 * nothing. Why {@value #WAITING_ROOMS}: a read of one room is one indexed query (257 of them and a
 * reload of a few rooms took 30 to 60 ms on SQLite on 2 shared cores, {@code RoomAccessBoundsTest}),
 * so a change queued behind them waits well under a second; honest notices are a few a second, far
 * below it, and past it one full read serves any number of rooms. No notice is ever dropped: the
 * worker's queue is unbounded, bounded instead by what may enter it.
 *
 * <p><b>Changes are bounded.</b> A change takes one of {@value #QUEUE} places until the worker is done
 * with it; with every place taken a new one is refused {@code overloaded} at once. Notices take no
 * place, so a flood of them never refuses a change, and a full queue of changes never drops a notice.
 *
 * <p><b>Threads.</b> Checks run on event loops and read the map of immutable records. Changes, notices'
 * reads and reloads run on the one {@value #THREAD} thread, so they apply in order; its queue holds at
 * most {@value #QUEUE} changes, {@value #WAITING_ROOMS} reads of one room and one reload. Futures
 * complete there, and callers hop back to their loop. Notices are heard on Lettuce's thread and only
 * mark a read; the timer thread only asks for a reload. The occupants' re-checks are posted to each
 * one's loop.
 */
public final class RoomAccess implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RoomAccess.class);
    static final String THREAD = "rooms";
    /** The backstop for a lost notice: how stale a node's view of another node's change can get. */
    public static final Duration RELOAD = Duration.ofSeconds(3);
    /** Changes waiting for the database at most; past it a change is refused {@code overloaded}. */
    static final int QUEUE = 1024;
    /** Rooms whose own re-read may wait at once; past it one reload of every room serves the rest. */
    static final int WAITING_ROOMS = 256;
    /** User ids: a token's {@code sub} is at most this long too. */
    private static final int MAX_USER_LENGTH = 256;

    /** Someone in a room on this node, to check again when the room's record changes. */
    public interface Occupant {
        /** The event loop the occupant lives on. */
        Executor executor();

        /** Called on {@link #executor()}: the room's rules changed; leave it if they no longer let you in. */
        void recheck(String room);
    }

    private final RoomStore store;
    private final boolean createOnJoin;
    private final Map<String, RoomRecord> rooms = new ConcurrentHashMap<>();
    private final Map<String, Set<Occupant>> occupants = new ConcurrentHashMap<>();
    private final ScheduledThreadPoolExecutor reloader;
    private final ThreadPoolExecutor worker;
    /** Changes, in {@link #QUEUE} places. */
    private final BoundedRequests changes;
    /** Rooms whose re-read waits on the worker, not started yet: a notice for one of them needs no other. */
    private final Set<String> waiting = ConcurrentHashMap.newKeySet();
    /** How many {@link #waiting} holds, or is about to: kept beside it so that the bound is exact. */
    private final AtomicInteger waitingCount = new AtomicInteger();
    /** Reloads of every room: one waits at most, and while it waits it serves every notice too. */
    private final CoalescedRun reloads;
    private volatile Consumer<String> announcer = room -> { };
    /** Whether the last reload failed; the worker's alone. */
    private boolean reloadFailing;

    /**
     * Loads every room (blocks: call at start-up) and reloads them every {@link #RELOAD}.
     *
     * @param createOnJoin true: a join to an unknown room makes a public room, as without records;
     *                     false: an unknown room is {@code not_found}
     */
    public RoomAccess(RoomStore store, boolean createOnJoin, String threadPrefix) {
        this(store, createOnJoin, threadPrefix, RELOAD);
    }

    /** As above, reloading every {@code reload} (tests: an hour, so that only the reads they ask for happen). */
    RoomAccess(RoomStore store, boolean createOnJoin, String threadPrefix, Duration reload) {
        this.store = store;
        this.createOnJoin = createOnJoin;
        String name = threadPrefix + "-" + THREAD;
        this.worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
        this.reloader = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, name + "-timer");
            t.setDaemon(true);
            return t;
        });
        // Closed, a change is refused like a full queue, as before there were places.
        this.changes = new BoundedRequests(worker, QUEUE, RoomAccess::overloaded, RoomAccess::overloaded);
        this.reloads = new CoalescedRun(this::onWorker, this::reloadAll);
        store.list().forEach(r -> rooms.put(r.name(), r));
        reloader.scheduleWithFixedDelay(this::reloadSoon, reload.toMillis(), reload.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Where a change made here is announced to the other nodes (a room name each); nowhere by default. */
    public void announceWith(Consumer<String> announce) {
        this.announcer = Objects.requireNonNull(announce);
    }

    /**
     * Another node changed {@code room}: read it again, soon. Any thread (Lettuce's, for a notice from
     * Redis); never blocks. A read that has not started yet, of this room or of every room, serves this
     * notice too; past {@value #WAITING_ROOMS} rooms waiting, one reload of every room serves it.
     */
    public void noticed(String room) {
        if (reloads.waiting() || waiting.contains(room)) {
            return;
        }
        if (waitingCount.incrementAndGet() > WAITING_ROOMS) {
            waitingCount.decrementAndGet();
            reloadSoon();
            return;
        }
        if (!waiting.add(room)) {
            waitingCount.decrementAndGet();
            return;
        }
        onWorker(() -> {
            // Before the read: a notice from now on queues another, which reads after this one.
            waiting.remove(room);
            waitingCount.decrementAndGet();
            apply(room, store.find(room));
        });
    }

    /** Asks for a reload of every room (the timer, or a flood of notices); one waits at most. Never blocks. */
    void reloadSoon() {
        reloads.request();
    }

    /** Rooms whose own re-read waits now; at most {@value #WAITING_ROOMS}. */
    int roomsWaiting() {
        return waiting.size();
    }

    // ---- checks: any thread, in memory ----

    /** The room's record, or null for a room nobody created. */
    public RoomRecord record(String room) {
        return rooms.get(room);
    }

    /**
     * Whether {@code who} may moderate {@code room}: a server admin, or the room's owner or moderator
     * (stored, or granted by the token). In memory; safe on an event loop. {@code who} null is nobody.
     */
    public boolean mayModerate(Identity who, String room) {
        if (who == null) {
            return false;
        }
        return who.admin() || rank(roleOf(who, room)) >= rank(RoomRecord.MODERATOR);
    }

    /** Whether {@code who} may see {@code room}: {@link #checkRead} as a yes or no, for listings. */
    public boolean mayRead(Identity who, String room) {
        try {
            checkRead(who, room);
            return true;
        } catch (ChatException e) {
            return false;
        }
    }

    /** What a listing says of {@code room} beyond its activity: its record (null: none) and {@code who}'s role. */
    public Listed listed(Identity who, String room) {
        RoomRecord r = rooms.get(room);
        return r == null ? null : new Listed(r, roleOf(who, room));
    }

    /**
     * May {@code who} (null: an anonymous HTTP reader) join and read {@code room}?
     *
     * @throws ChatException {@code not_found} for a private room it is not a member of, or an unknown
     *                       room when unknown rooms are refused
     */
    public void checkRead(Identity who, String room) {
        if (who != null && who.admin()) {
            return;
        }
        RoomRecord r = rooms.get(room);
        if (r == null) {
            if (!createOnJoin) {
                throw notFound(room);
            }
            return;
        }
        if (r.isPrivate() && roleOf(who, room) == null) {
            throw notFound(room);
        }
    }

    /**
     * May {@code who} send to {@code room}? On the send path: one or two hash lookups.
     *
     * @throws ChatException {@code not_found} as {@link #checkRead}; {@code forbidden} when the room's
     *                       write setting leaves {@code who} out
     */
    public void checkWrite(Identity who, String room) {
        checkRead(who, room);
        RoomRecord r = rooms.get(room);
        if (r == null || r.isPrivate() || who.admin()) {
            return;
        }
        switch (r.write()) {
            case RoomRecord.SIGNED_IN -> {
                if (who.guest()) {
                    throw new ChatException(ErrorCode.FORBIDDEN, "only signed-in users may write in room " + room);
                }
            }
            case RoomRecord.MEMBERS -> {
                if (roleOf(who, room) == null) {
                    throw new ChatException(ErrorCode.FORBIDDEN, "only members may write in room " + room);
                }
            }
            default -> { }
        }
    }

    /** The rooms {@code who} may see, with its role in each (null: none), by name. */
    public List<Listed> visible(Identity who) {
        return rooms.values().stream()
                .filter(r -> !r.isPrivate() || (who != null && who.admin()) || roleOf(who, r.name()) != null)
                .sorted(java.util.Comparator.comparing(RoomRecord::name))
                .map(r -> new Listed(r, roleOf(who, r.name())))
                .toList();
    }

    /** A room in a listing, with the asker's role in it (null: none). */
    public record Listed(RoomRecord room, String role) { }

    /**
     * A room's record as {@code who} may see it: its people only to those who may moderate it.
     *
     * @throws ChatException {@code not_found} if it has no record or {@code who} may not see it
     */
    public RoomRecord settings(Identity who, String room) {
        ChatRules.room(room);
        checkRead(who, room);
        RoomRecord r = rooms.get(room);
        if (r == null) {
            throw notFound(room);
        }
        return mayModerate(who, room) ? r : new RoomRecord(r.name(), r.kind(), r.write(), r.createdBy(),
                r.createdAt(), Map.of());
    }

    /** The higher of the room role stored for {@code who} and the one its token grants; null if none. */
    String roleOf(Identity who, String room) {
        if (who == null) {
            return null;
        }
        String claimed = who.rooms().get(room);
        RoomRecord r = rooms.get(room);
        // A guest's id is a name anyone may take: stored roles never apply to guests.
        String stored = r == null || who.guest() ? null : r.roles().get(who.user());
        return rank(claimed) >= rank(stored) ? claimed : stored;
    }

    private static int rank(String role) {
        if (role == null) {
            return 0;
        }
        return switch (role) {
            case RoomRecord.MEMBER -> 1;
            case RoomRecord.MODERATOR -> 2;
            case RoomRecord.OWNER -> 3;
            default -> 0;
        };
    }

    private static ChatException notFound(String room) {
        return new ChatException(ErrorCode.NOT_FOUND, "no room " + room);
    }

    // ---- changes: checked on the caller's thread, written on the worker ----

    /**
     * Creates a room owned by {@code who}. Admins may always; signed-in users while unknown rooms are
     * created on join (they could make a public room by joining anyway); guests never.
     * The future completes on the worker thread.
     *
     * @throws ChatException at once for a bad name or setting, or a caller without the right
     */
    public CompletableFuture<RoomRecord> create(Identity who, String room, String kind, String write) {
        ChatRules.room(room);
        String k = kind == null ? RoomRecord.PUBLIC : kind;
        String w = write == null ? RoomRecord.EVERYONE : write;
        checkSettings(k, w);
        if (who == null || who.guest()) {
            throw new ChatException(ErrorCode.FORBIDDEN, "guests may not create rooms; sign in");
        }
        if (!who.admin() && !createOnJoin) {
            throw new ChatException(ErrorCode.FORBIDDEN, "only server admins may create rooms on this server");
        }
        if (rooms.containsKey(room)) {
            throw roomExists(room);
        }
        RoomRecord record = new RoomRecord(room, k, w, who.user(), System.currentTimeMillis(),
                Map.of(who.user(), RoomRecord.OWNER));
        return change(room, () -> {
            if (!store.create(record)) {
                throw roomExists(room);
            }
        });
    }

    /**
     * Changes a room's kind or write setting (null keeps it): its owner or an admin.
     *
     * @throws ChatException at once: {@code not_found}, {@code forbidden}, {@code bad_request}
     */
    public CompletableFuture<RoomRecord> set(Identity who, String room, String kind, String write) {
        RoomRecord r = existing(who, room);
        if (!who.admin() && rank(roleOf(who, room)) < rank(RoomRecord.OWNER)) {
            throw new ChatException(ErrorCode.FORBIDDEN, "only the room's owner or an admin may change its settings");
        }
        String k = kind == null ? r.kind() : kind;
        String w = write == null ? r.write() : write;
        checkSettings(k, w);
        return change(room, () -> {
            if (!store.setSettings(room, k, w)) {
                throw notFound(room);
            }
        });
    }

    /**
     * Gives {@code user} a role in the room. The owner or an admin may give any role; a moderator may
     * make someone a member who has no higher role.
     */
    public CompletableFuture<RoomRecord> grant(Identity who, String room, String user, String role) {
        RoomRecord r = existing(who, room);
        checkUser(user);
        if (!RoomRecord.isRole(role)) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "role must be owner, moderator or member");
        }
        mayChangeRole(who, r, user, role);
        return change(room, () -> {
            if (!store.grant(room, user, role)) {
                throw notFound(room);
            }
        });
    }

    /** Takes {@code user}'s role in the room away, by the rules of {@link #grant}; it leaves a private room at once. */
    public CompletableFuture<RoomRecord> revoke(Identity who, String room, String user) {
        RoomRecord r = existing(who, room);
        checkUser(user);
        mayChangeRole(who, r, user, null);
        return change(room, () -> store.revoke(room, user));
    }

    private void mayChangeRole(Identity who, RoomRecord r, String user, String role) {
        if (who.admin() || rank(roleOf(who, r.name())) >= rank(RoomRecord.OWNER)) {
            return;
        }
        String current = r.roles().get(user);
        boolean memberOnly = (role == null || role.equals(RoomRecord.MEMBER)) && rank(current) <= rank(RoomRecord.MEMBER);
        if (memberOnly && mayModerate(who, r.name())) {
            return;
        }
        throw new ChatException(ErrorCode.FORBIDDEN, mayModerate(who, r.name())
                ? "a moderator may only add and remove members; ask the owner"
                : "only the room's owner, moderators or an admin may change roles");
    }

    private RoomRecord existing(Identity who, String room) {
        ChatRules.room(room);
        if (who == null || who.guest()) {
            // Before anything that could tell a guest the room exists.
            RoomRecord r = rooms.get(room);
            if (r == null || r.isPrivate()) {
                throw notFound(room);
            }
            throw new ChatException(ErrorCode.FORBIDDEN, "guests may not change rooms; sign in");
        }
        checkRead(who, room);
        RoomRecord r = rooms.get(room);
        if (r == null) {
            throw notFound(room);
        }
        return r;
    }

    private static void checkSettings(String kind, String write) {
        if (!RoomRecord.isKind(kind)) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "kind must be public or private");
        }
        if (!RoomRecord.isWrite(write)) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "write must be everyone, signed_in or members");
        }
    }

    private static void checkUser(String user) {
        if (user == null || user.isBlank() || user.length() > MAX_USER_LENGTH
                || user.codePoints().anyMatch(Character::isISOControl)) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "user must be a user id of 1-" + MAX_USER_LENGTH + " characters");
        }
        if (user.startsWith(Identity.GUEST_PREFIX)) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "guests cannot be given room roles: their names are anyone's");
        }
    }

    private static ChatException roomExists(String room) {
        return new ChatException(ErrorCode.ROOM_EXISTS, "a room named " + room + " exists already");
    }

    /** Runs {@code write} on the worker, then reads the room back, caches it, re-checks its occupants, announces. */
    private CompletableFuture<RoomRecord> change(String room, Runnable write) {
        return changes.submit(() -> {
            write.run();
            RoomRecord now = store.find(room);
            apply(room, now);
            announcer.accept(room);
            return now;
        });
    }

    private static ChatException overloaded() {
        return new ChatException(ErrorCode.OVERLOADED, "too many room changes at once; retry with backoff");
    }

    /** What a change's failure is told as: its own refusal, or the database's. */
    public static ChatException failure(Throwable e) {
        Throwable cause = e instanceof java.util.concurrent.CompletionException ? e.getCause() : e;
        if (cause instanceof ChatException c) {
            return c;
        }
        if (cause instanceof StoreException) {
            return new ChatException(ErrorCode.STORE_UNAVAILABLE, "the room store is unavailable; nothing changed, retry");
        }
        log.error("a room change failed", cause);
        return new ChatException(ErrorCode.INTERNAL_ERROR, "internal error");
    }

    /** On the worker: {@code room}'s record is now {@code now} (null: none); its occupants look again. */
    private void apply(String room, RoomRecord now) {
        RoomRecord before = now == null ? rooms.remove(room) : rooms.put(room, now);
        if (Objects.equals(before, now)) {
            return;
        }
        Set<Occupant> here = occupants.get(room);
        if (here != null) {
            for (Occupant o : here) {
                o.executor().execute(() -> o.recheck(room));
            }
        }
    }

    private void reloadAll() {
        List<RoomRecord> all;
        try {
            all = store.list();
        } catch (StoreException e) {
            if (!reloadFailing) {
                log.warn("reading the rooms failed; the last ones read stay in force: {}", e.getMessage());
            }
            reloadFailing = true;
            return;
        }
        reloadFailing = false;
        Map<String, RoomRecord> fresh = new HashMap<>();
        all.forEach(r -> fresh.put(r.name(), r));
        for (String gone : List.copyOf(rooms.keySet())) {
            if (!fresh.containsKey(gone)) {
                apply(gone, null);
            }
        }
        fresh.forEach(this::apply);
    }

    private void onWorker(Runnable task) {
        try {
            worker.execute(() -> {
                try {
                    task.run();
                } catch (StoreException e) {
                    log.warn("reading a room failed; the next reload catches up: {}", e.getMessage());
                }
            });
        } catch (RejectedExecutionException e) {
            // Closed: nothing is checked here any more.
        }
    }

    // ---- occupants: event loops ----

    /** {@code o} is in {@code room} on this node from now on. */
    public void enter(String room, Occupant o) {
        occupants.computeIfAbsent(room, r -> ConcurrentHashMap.newKeySet()).add(o);
    }

    /** {@code o} left {@code room}. */
    public void exit(String room, Occupant o) {
        occupants.computeIfPresent(room, (r, set) -> {
            set.remove(o);
            return set.isEmpty() ? null : set;
        });
    }

    @Override
    public void close() {
        reloader.shutdownNow();
        worker.shutdownNow();
    }
}
