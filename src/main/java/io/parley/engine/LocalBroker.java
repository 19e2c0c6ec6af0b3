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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Orders, stores and fans out every room's messages on one node: the engine.
 *
 * <p><b>One place decides order.</b> Every subscribe, unsubscribe and publish becomes a command on one
 * queue, drained by one thread, the <em>sequencer</em>. It takes whatever has queued up (up to
 * {@value #MAX_BATCH} commands) and handles it as one batch:
 * <ol>
 *   <li>subscribes: add the member; its history is fixed as the room stands before this batch;</li>
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
 * <p><b>Its parts.</b> This class is the sequencing: the queue, the sequencer thread, order, idempotency,
 * the commit and retention. Node-local fan-out (encode once, one task per event loop) is
 * {@link FanOut} and {@link LoopTasks}; the gate that puts a join's history before its live frames is
 * {@link Subscription}; answering from memory or disk is {@link Replays}.
 *
 * <p><b>Threads.</b> {@link #subscribe}, {@link #unsubscribe} and {@link #publish} are called on the
 * caller's event loop and never block: they only enqueue. The sequencer is the only thread that
 * touches {@link Room}s and the store's write side; the JDBC commit runs there, never on an event loop.
 * Reads of older history run on {@link Replays}' reader threads. Every result reaches a subscriber on
 * its own executor.
 */
public final class LocalBroker implements Broker {

    private static final Logger log = LoggerFactory.getLogger(LocalBroker.class);

    /** Commands handled per batch: bounds the data one connection may get in one task. */
    static final int MAX_BATCH = 256;
    private static final int QUEUE_CAPACITY = 65_536;
    /**
     * How long a room nobody is in stays in memory. Without it a room that only HTTP clients post to
     * would be loaded from disk again for every batch.
     */
    private static final long ROOM_IDLE_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final HistoryStore store;
    private final int historyOnJoin;
    private final long retainMessages;
    private final int recentCapacity;
    private final LongAdder storedCount = new LongAdder();
    private final LongAdder deliveryCount = new LongAdder();
    private final FanOut fanOut;
    private final Replays replays;
    private long lastSweepNanos = System.nanoTime();
    private final BlockingQueue<Command> inbox = new LinkedBlockingQueue<>();
    private final Thread sequencer;
    private final Thread.UncaughtExceptionHandler essentialThreadDied;
    private final Map<String, Room> rooms = new HashMap<>();
    private volatile boolean accepting = true;
    private volatile boolean running = true;

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
        this.essentialThreadDied = essentialThreadDied;
        this.store = store;
        this.historyOnJoin = historyOnJoin;
        this.retainMessages = retainMessages;
        // Keep enough recent messages that joins and short reconnects never touch the disk.
        this.recentCapacity = Math.max(historyOnJoin, 200);
        if (retainMessages != 0 && retainMessages <= recentCapacity) {
            throw new IllegalArgumentException("retainMessages must be 0 or more than " + recentCapacity);
        }
        this.fanOut = new FanOut(encoder, deliveryCount);
        this.replays = new Replays(store, threadPrefix, essentialThreadDied);
        this.sequencer = new Thread(this::runSequencer, threadPrefix + "-sequencer");
        // Only an Error gets past the loop's catch: the sequencer is then gone, and nothing is ordered.
        this.sequencer.setUncaughtExceptionHandler(essentialThreadDied);
        this.sequencer.start();
    }

    @Override
    public Subscription subscribe(String room, Subscriber subscriber, String name, long since,
                                  ReadQueue.Asker asker, JoinListener listener) {
        Subscription s = new Subscription(room, subscriber, name, listener, this);
        enqueue(new Subscribe(s, since, asker));
        return s;
    }

    @Override
    public void unsubscribe(Subscription s) {
        s.close();
        // Never refused, even when full or stopping: otherwise the room would keep a dead member.
        inbox.add(new Unsubscribe(s));
    }

    @Override
    public void publish(Executor replyOn, String room, String id, String user, String from, String text,
                        PublishListener listener) {
        enqueue(new Publish(replyOn, room, id, user, from, text, listener));
    }

    @Override
    public Poll poll(ReadQueue.Asker asker, String room, long since, int limit, boolean wait, Executor replyOn,
                     PollListener listener) {
        // Cancelling is never refused, like unsubscribe: a room must not keep a dead waiter.
        Waiter w = new Waiter(asker, room, since, Math.min(limit, Replays.MAX_REPLAY), replyOn, listener,
                waiter -> inbox.add(new CancelPoll(waiter)));
        enqueue(new PollCommand(w, wait));
        return w;
    }

    @Override
    public long storedCount() {
        return storedCount.sum();
    }

    @Override
    public long deliveryCount() {
        return deliveryCount.sum();
    }

    @Override
    public ReadQueue.Asker asker() {
        return replays.asker();
    }

    @Override
    public CompletableFuture<List<StoredMessage>> history(ReadQueue.Asker asker, String room, long before,
                                                          long since, int limit) {
        if (!accepting) {
            throw new Refused(Failure.SHUTTING_DOWN);
        }
        return replays.history(asker, room, before, since, limit);
    }

    private void enqueue(Command c) {
        if (!accepting) {
            throw new Refused(Failure.SHUTTING_DOWN);
        }
        // The bound is loose (size and add are not atomic together); it only has to stop runaway growth.
        if (inbox.size() >= QUEUE_CAPACITY) {
            throw new Refused(Failure.OVERLOADED);
        }
        inbox.add(c);
    }

    /**
     * Stops taking commands, finishes those already queued (their messages are stored and their acks
     * sent), then stops the sequencer and the readers.
     */
    @Override
    public void close() {
        accepting = false;
        running = false;
        try {
            sequencer.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // A request that slipped in while the sequencer stopped still gets an answer.
        List<Command> late = new ArrayList<>();
        inbox.drainTo(late);
        for (Command c : late) {
            if (c instanceof Publish p) {
                post(p.replyOn(), () -> p.listener().failed(Failure.SHUTTING_DOWN));
            } else if (c instanceof Subscribe s) {
                post(s.subscription().subscriber.executor(), () -> s.subscription().fail(Failure.SHUTTING_DOWN));
            } else if (c instanceof PollCommand pc) {
                post(pc.waiter().replyOn, () -> pc.waiter().listener.failed(Failure.SHUTTING_DOWN));
            }
        }
        // The sequencer has stopped: its rooms are this thread's now. Nobody will answer these polls.
        for (Room room : rooms.values()) {
            for (Waiter w : room.waiters()) {
                post(w.replyOn, () -> w.listener.failed(Failure.SHUTTING_DOWN));
            }
            room.waiters().clear();
        }
        replays.close();
    }

    private void runSequencer() {
        List<Command> batch = new ArrayList<>(MAX_BATCH);
        while (running || !inbox.isEmpty()) {
            try {
                Command first = inbox.poll(50, TimeUnit.MILLISECONDS);
                forgetIdleRooms();
                if (first == null) {
                    continue;
                }
                batch.add(first);
                inbox.drainTo(batch, MAX_BATCH - 1);
                process(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                log.error("sequencer failed on a batch of {} commands", batch.size(), e);
            } finally {
                batch.clear();
            }
        }
    }

    private void process(List<Command> batch) {
        LoopTasks tasks = new LoopTasks(essentialThreadDied);
        FanOut.Changes changes = fanOut.changes();

        for (Command c : batch) {
            if (c instanceof Subscribe s) {
                subscribe(s, tasks, changes);
            }
        }
        publish(batch, tasks, changes);
        for (Command c : batch) {
            if (c instanceof Unsubscribe u) {
                Room room = rooms.get(u.subscription().room);
                if (room != null && room.remove(u.subscription())) {
                    changes.left(room, u.subscription().name);
                }
            } else if (c instanceof CancelPoll cp) {
                Room room = rooms.get(cp.waiter().room);
                if (room != null) {
                    room.waiters().remove(cp.waiter());
                }
            } else if (c instanceof PollCommand pc) {
                poll(pc, tasks);
            }
        }
        for (Room room : changes.deliver(tasks)) {
            answerWaiters(room, tasks);
        }
        tasks.post();
    }

    private void poll(PollCommand cmd, LoopTasks tasks) {
        Waiter w = cmd.waiter();
        Room room = room(w.room);
        if (room == null) {
            tasks.then(w.replyOn, () -> w.listener.failed(Failure.STORE_UNAVAILABLE));
            return;
        }
        // A client ahead of the room (its data was lost or it asks another server) must not wait forever.
        if (room.lastSeq() != w.since || !cmd.waits()) {
            replays.after(room, w.asker, w.since, w.limit, w.replyOn, tasks, replay -> answer(w, replay),
                    w.listener::failed);
        } else {
            room.waiters().add(w);
        }
    }

    private void subscribe(Subscribe cmd, LoopTasks tasks, FanOut.Changes changes) {
        Subscription s = cmd.subscription();
        Executor loop = s.subscriber.executor();
        Room room = room(s.room);
        if (room == null) {
            tasks.then(loop, () -> s.fail(Failure.STORE_UNAVAILABLE));
            return;
        }
        room.add(s);
        changes.joined(room, s.name);
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

    private void publish(List<Command> batch, LoopTasks tasks, FanOut.Changes changes) {
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
                tasks.then(p.replyOn(), () -> p.listener().stored(stored));
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
        try {
            store.append(messages);
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
            StoredMessage original = originals.get(i);
            tasks.then(p.replyOn(), () -> p.listener().stored(original));
        }
        nextSeq.keySet().forEach(this::applyRetention);
    }

    /** Deletes a room's oldest messages once it holds a tenth more than it retains (in one go, not per message). */
    private void applyRetention(Room room) {
        if (retainMessages == 0) {
            return;
        }
        long slack = Math.max(retainMessages / 10, 100);
        if (room.lastSeq() - room.firstSeq() + 1 <= retainMessages + slack) {
            return;
        }
        long upTo = room.lastSeq() - retainMessages;
        try {
            store.prune(room.name, upTo);
            room.prunedUpTo(upTo);
        } catch (StoreException e) {
            // Nothing is lost by keeping messages longer; the next batch tries again.
            log.warn("deleting old messages of room {} failed", room.name, e);
        }
    }

    private static void fail(Publish p, Failure f, LoopTasks tasks) {
        tasks.then(p.replyOn(), () -> p.listener().failed(f));
    }

    private void answerWaiters(Room room, LoopTasks tasks) {
        for (Waiter w : room.waiters()) {
            replays.after(room, w.asker, w.since, w.limit, w.replyOn, tasks, replay -> answer(w, replay),
                    w.listener::failed);
        }
        room.waiters().clear();
    }

    private void answer(Waiter w, Replay replay) {
        deliveryCount.add(replay.messages().size());
        w.listener.answered(replay);
    }

    /** Drops rooms nobody used for a while; at most once a second. */
    private void forgetIdleRooms() {
        long now = System.nanoTime();
        if (now - lastSweepNanos < TimeUnit.SECONDS.toNanos(1)) {
            return;
        }
        lastSweepNanos = now;
        rooms.values().removeIf(room -> room.idleSince(now - ROOM_IDLE_NANOS));
    }

    /** The room's state, loaded from the store on first use; null if the store failed. */
    private Room room(String name) {
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

    private void post(Executor executor, Runnable task) {
        LoopTasks.post(executor, task, essentialThreadDied);
    }

    private sealed interface Command permits Subscribe, Unsubscribe, Publish, PollCommand, CancelPoll { }

    private record Subscribe(Subscription subscription, long since, ReadQueue.Asker asker) implements Command { }

    private record Unsubscribe(Subscription subscription) implements Command { }

    private record Publish(Executor replyOn, String room, String id, String user, String from, String text,
                           PublishListener listener) implements Command { }

    private record PollCommand(Waiter waiter, boolean waits) implements Command { }

    private record CancelPoll(Waiter waiter) implements Command { }

    /** Who sent which id where: what makes a resend recognisable. */
    private record SentKey(String room, String user, String id) { }
}
