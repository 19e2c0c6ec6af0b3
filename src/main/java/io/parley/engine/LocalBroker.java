package io.parley.engine;

import io.parley.store.HistoryStore;
import io.parley.store.StoreException;
import io.parley.store.StoredMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * Orders, stores and fans out every room's messages on one node: the engine.
 *
 * <p><b>One place decides order.</b> Every subscribe, unsubscribe and publish becomes a command on one
 * queue, drained by one thread, the <em>sequencer</em>. It takes whatever has queued up (up to
 * {@value #MAX_BATCH} commands) and handles it as one batch:
 * <ol>
 *   <li>subscribes: add the member; its history is fixed as the room stands before this batch. With
 *       them, in their order, disconnects: the entry lingers, and a reconnect after it in the batch
 *       takes it over;</li>
 *   <li>publishes: a message whose client id its user already used in the room is answered with the
 *       original (looked up in the batch, then in the store), so a resend after a lost ack stores
 *       nothing twice. The others are numbered (room's last seq + 1) and the whole batch is written to
 *       the store in one transaction. Only when that commits do the seqs count; if it fails, nobody
 *       receives the messages, their senders get {@link Failure#STORE_UNAVAILABLE}, and the seqs are
 *       used again. Then retention deletes a room's oldest messages once it holds too many;</li>
 *   <li>unsubscribes, and long polls that gave up;</li>
 *   <li>fan-out: each message and presence change is encoded once, and for each event loop that has
 *       members in the room, one task is posted that hands those same bytes to each of them, then runs
 *       the acks of publishers on that loop. The transport flushes once per connection per task.
 *       Long polls waiting on a room that got messages are answered in the same task.</li>
 * </ol>
 * Batching is what makes this fast: under load the queue fills while the sequencer writes, so one
 * commit, one task per event loop and one socket write per connection carry many messages.
 *
 * <p><b>Its parts.</b> This class is the sequencing of one node: order, idempotency, the commit. The
 * queue, the sequencer thread, polls, retention and an orderly close are {@link SequencedBroker}'s,
 * shared with {@link RedisBroker}. Node-local fan-out (encode once, one task per event loop) is
 * {@link FanOut} and {@link LoopTasks}; the gate that puts a join's history before its live frames is
 * {@link Subscription}; answering from memory or disk is {@link Replays}.
 *
 * <p><b>Threads.</b> {@link #subscribe}, {@link #unsubscribe} and {@link #publish} are called on the
 * caller's event loop and never block: they only enqueue. The sequencer is the only thread that
 * touches {@link Room}s and the store's write side; the JDBC commit runs there, never on an event loop.
 * Reads of older history run on {@link Replays}' reader threads. Every result reaches a subscriber on
 * its own executor.
 */
public final class LocalBroker extends SequencedBroker {

    private static final Logger log = LoggerFactory.getLogger(LocalBroker.class);

    /**
     * How long a room nobody is in stays in memory. Without it a room that only HTTP clients post to
     * would be loaded from disk again for every batch.
     */
    private static final long ROOM_IDLE_NANOS = TimeUnit.SECONDS.toNanos(30);
    /**
     * The largest room whose joins and leaves are named to its members, unless the server says
     * otherwise. Twitch stops naming joins and parts near 1,000 chatters; here, a room that fills to
     * 1,000 members costs about 500,000 presence frames, a fraction of a second of fan-out.
     */
    public static final int DEFAULT_PRESENCE_NAMES_UP_TO = 1_000;

    private long lastSweepNanos = System.nanoTime();

    /**
     * @param retainMessages messages kept per room, 0 for all; when not 0 it must exceed what a room
     *                       holds in memory (200), so memory never holds a deleted message
     */
    public LocalBroker(HistoryStore store, BroadcastEncoder encoder, int historyOnJoin, long retainMessages) {
        this(store, encoder, historyOnJoin, retainMessages, "parley");
    }

    /** An engine whose essential threads' death is only logged: for tests that run the engine alone. */
    public LocalBroker(HistoryStore store, BroadcastEncoder encoder, int historyOnJoin, long retainMessages,
                       String threadPrefix) {
        this(store, encoder, historyOnJoin, retainMessages, threadPrefix,
                (thread, cause) -> log.error("{} died: the engine cannot go on", thread.getName(), cause));
    }

    /**
     * @param threadPrefix what this engine's thread names start with ({@code PREFIX-sequencer}, ...), so
     *                     that logs, thread dumps and tests can tell one server's threads from another's
     * @param essentialThreadDied told when the sequencer or a history reader dies of a Throwable, or a
     *                     history read or a delivery task runs out of memory: the engine cannot go on, and
     *                     {@code parley serve} ends the process (the engine knows nothing of how)
     */
    public LocalBroker(HistoryStore store, BroadcastEncoder encoder, int historyOnJoin, long retainMessages,
                       String threadPrefix, Thread.UncaughtExceptionHandler essentialThreadDied) {
        this(store, encoder, historyOnJoin, retainMessages, DEFAULT_PRESENCE_NAMES_UP_TO, threadPrefix,
                essentialThreadDied);
    }

    /**
     * @param presenceNamesUpTo the largest room whose joins and leaves are named in presence frames;
     *                     a bigger one is sent its member count at most once a second instead
     */
    public LocalBroker(HistoryStore store, BroadcastEncoder encoder, int historyOnJoin, long retainMessages,
                       int presenceNamesUpTo, String threadPrefix,
                       Thread.UncaughtExceptionHandler essentialThreadDied) {
        this(store, encoder, historyOnJoin, retainMessages, presenceNamesUpTo, 0, threadPrefix, essentialThreadDied);
    }

    /**
     * @param presenceGraceMillis how long a disconnected member lingers in its rooms before its
     *                     {@code left}, and a named long poller after its last poll; 0 turns leases off
     */
    public LocalBroker(HistoryStore store, BroadcastEncoder encoder, int historyOnJoin, long retainMessages,
                       int presenceNamesUpTo, long presenceGraceMillis, String threadPrefix,
                       Thread.UncaughtExceptionHandler essentialThreadDied) {
        super(store, encoder, historyOnJoin, retainMessages, presenceNamesUpTo, presenceGraceMillis, threadPrefix,
                essentialThreadDied);
        startSequencer();
    }

    @Override
    void turn(List<Command> batch, long now) {
        forgetIdleRooms(now);
        // The 50 ms wake-up is the clock of big rooms' counts and of leases: no timer thread, no task per room.
        if (!batch.isEmpty() || fanOut.countsOwed() || !leased.isEmpty()) {
            process(batch, now);
        }
    }

    @Override
    void subscribe(Subscribe cmd, LoopTasks tasks, FanOut.Changes changes) {
        Subscription s = cmd.subscription();
        Executor loop = s.subscriber.executor();
        Room room = room(s.room);
        if (room == null) {
            tasks.then(loop, () -> s.fail(Failure.STORE_UNAVAILABLE));
            return;
        }
        added(room, s, changes);
        int members = room.memberCount();
        long since = cmd.since();
        if (since < 0) {
            List<StoredMessage> history = Replays.newestWithinBudget(room.newest(historyOnJoin));
            Replay replay = new Replay(room.lastSeq(), room.firstSeq(), history, true);
            tasks.join(loop, () -> s.complete(members, replay));
        } else {
            // Live frames that arrive before a history read from disk wait in the subscription.
            replays.after(room, cmd.asker(), since, Replays.MAX_REPLAY, loop, tasks,
                    replay -> s.complete(members, replay), s::fail);
        }
    }

    @Override
    void publish(List<Command> batch, LoopTasks tasks, FanOut.Changes changes) {
        List<Publish> publishes = new ArrayList<>();
        List<StoredMessage> messages = new ArrayList<>();
        Map<Room, Long> nextSeq = new HashMap<>();
        // Resends: of a message in this batch (answered only if the batch commits), or of a stored one.
        Map<SentKey, StoredMessage> sentInBatch = new HashMap<>();
        List<Publish> resends = new ArrayList<>();
        List<StoredMessage> originals = new ArrayList<>();
        long now = System.currentTimeMillis();
        for (Command c : batch) {
            if (!(c instanceof Publish p)) {
                continue;
            }
            Room room = room(p.room());
            if (room == null) {
                fail(p, Failure.STORE_UNAVAILABLE, tasks);
                continue;
            }
            SentKey key = new SentKey(p.room(), p.user(), p.id());
            StoredMessage inBatch = sentInBatch.get(key);
            if (inBatch != null) {
                resends.add(p);
                originals.add(inBatch);
                continue;
            }
            StoredMessage stored;
            try {
                stored = store.findSent(p.room(), p.user(), p.id());
            } catch (StoreException e) {
                log.error("looking up message id {} in room {} failed", p.id(), p.room(), e);
                fail(p, Failure.STORE_UNAVAILABLE, tasks);
                continue;
            }
            if (stored != null) {
                answerResend(p, stored, tasks);
                continue;
            }
            long seq = nextSeq.merge(room, room.lastSeq() + 1, (old, ignored) -> old + 1);
            StoredMessage m = new StoredMessage(p.room(), seq, p.id(), p.user(), p.from(), p.text(), now);
            sentInBatch.put(key, m);
            publishes.add(p);
            messages.add(m);
        }
        if (messages.isEmpty()) {
            return;
        }
        long commitStart = System.nanoTime();
        try {
            store.append(messages);
            committed(commitStart);
        } catch (StoreException e) {
            log.error("storing {} messages failed; their senders are told to retry", messages.size(), e);
            publishes.forEach(p -> fail(p, Failure.STORE_UNAVAILABLE, tasks));
            resends.forEach(p -> fail(p, Failure.STORE_UNAVAILABLE, tasks));
            return;
        }
        storedCount.add(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            StoredMessage m = messages.get(i);
            Publish p = publishes.get(i);
            Room room = rooms.get(m.room());
            room.append(m);
            changes.message(room, m);
            tasks.then(p.replyOn(), () -> p.listener().stored(m));
        }
        for (int i = 0; i < resends.size(); i++) {
            Publish p = resends.get(i);
            answerResend(p, originals.get(i), tasks);
        }
        nextSeq.keySet().forEach(this::applyRetention);
    }

    /** One node: nobody else keeps a copy to tell. */
    @Override
    public void announce(String room, String topic) {
    }

    /** One node: no other node announces anything. */
    @Override
    public void onAnnouncement(Announcements listener) {
    }

    /** One node: every message the store holds is in the room's order already. */
    @Override
    void tombstoned(Room room, Tombstones t, FanOut.Changes changes) {
        room.tombstone(t);
        changes.deleted(room, t);
    }

    /** Drops rooms nobody used for a while; at most once a second. */
    private void forgetIdleRooms(long now) {
        if (now - lastSweepNanos < TimeUnit.SECONDS.toNanos(1)) {
            return;
        }
        lastSweepNanos = now;
        rooms.values().removeIf(room -> room.idleSince(now - ROOM_IDLE_NANOS));
    }

    /** The room's state, loaded from the store on first use; null if the store failed. */
    @Override
    Room room(String name) {
        Room room = rooms.get(name);
        if (room == null) {
            try {
                HistoryStore.RoomTail tail = store.loadTail(name, recentCapacity);
                room = new Room(name, tail.lastSeq(), tail.firstSeq(), tail.recent(), recentCapacity);
                rooms.put(name, room);
            } catch (StoreException e) {
                log.error("loading room {} failed", name, e);
                return null;
            }
        }
        room.used(System.nanoTime());
        return room;
    }

    /** Who sent which id where: what makes a resend recognisable. */
    private record SentKey(String room, String user, String id) { }
}
