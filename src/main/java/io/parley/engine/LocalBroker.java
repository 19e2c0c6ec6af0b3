package io.parley.engine;

import io.parley.store.HistoryStore;
import io.parley.store.StoreException;
import io.parley.store.StoredMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

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
 * <p><b>Threads.</b> {@link #subscribe}, {@link #unsubscribe} and {@link #publish} are called on the
 * caller's event loop and never block: they only enqueue. The sequencer is the only thread that
 * touches {@link Room}s and the store's write side; the JDBC commit runs there, never on an event loop.
 * Reads of older history run on a small reader pool. Every result reaches a subscriber on its own
 * executor.
 */
public final class LocalBroker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LocalBroker.class);

    /** Commands handled per batch: bounds the data one connection may get in one task. */
    static final int MAX_BATCH = 256;
    /** Messages one join or history reply may carry. */
    public static final int MAX_REPLAY = 1000;
    /**
     * Characters of text one join or history reply may carry: about 1 MiB of JSON at worst, so that a
     * reply alone never fills a connection's outbound buffer and gets a healthy client closed as slow.
     */
    static final int REPLAY_TEXT_BUDGET = 256 * 1024;
    private static final int QUEUE_CAPACITY = 65_536;
    /**
     * How long a room nobody is in stays in memory. Without it a room that only HTTP clients post to
     * would be loaded from disk again for every batch.
     */
    private static final long ROOM_IDLE_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final HistoryStore store;
    private final BroadcastEncoder encoder;
    private final int historyOnJoin;
    private final long retainMessages;
    private final int recentCapacity;
    private final LongAdder storedCount = new LongAdder();
    private final LongAdder deliveryCount = new LongAdder();
    private long lastSweepNanos = System.nanoTime();
    private final BlockingQueue<Command> inbox = new LinkedBlockingQueue<>();
    private final ExecutorService readers;
    private final Thread sequencer;
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

    /**
     * @param threadPrefix what this engine's thread names start with ({@code PREFIX-sequencer}, ...), so
     *                     that logs, thread dumps and tests can tell one server's threads from another's
     */
    public LocalBroker(HistoryStore store, BroadcastEncoder encoder, int historyOnJoin, long retainMessages,
                       String threadPrefix) {
        this.store = store;
        this.encoder = encoder;
        this.historyOnJoin = historyOnJoin;
        this.retainMessages = retainMessages;
        // Keep enough recent messages that joins and short reconnects never touch the disk.
        this.recentCapacity = Math.max(historyOnJoin, 200);
        if (retainMessages != 0 && retainMessages <= recentCapacity) {
            throw new IllegalArgumentException("retainMessages must be 0 or more than " + recentCapacity);
        }
        AtomicInteger n = new AtomicInteger();
        this.readers = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, threadPrefix + "-history-reader-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.sequencer = new Thread(this::runSequencer, threadPrefix + "-sequencer");
        this.sequencer.start();
    }

    /**
     * Joins {@code subscriber} to {@code room}. The listener hears the outcome on the subscriber's
     * executor; live frames follow only after it.
     *
     * @param since -1 for the newest {@code historyOnJoin} messages, else the last seq the client saw
     * @throws Refused at once, when the engine is full or stopping (the listener is then not called)
     */
    public Subscription subscribe(String room, Subscriber subscriber, String name, long since,
                                  JoinListener listener) {
        Subscription s = new Subscription(room, subscriber, name, listener, this);
        enqueue(new Subscribe(s, since));
        return s;
    }

    /** Leaves the room: no frame of it reaches the subscriber after this call. Subscriber's executor. */
    public void unsubscribe(Subscription s) {
        s.close();
        // Never refused, even when full or stopping: otherwise the room would keep a dead member.
        inbox.add(new Unsubscribe(s));
    }

    /**
     * Stores and broadcasts a message, unless {@code user} already sent {@code id} to this room: then
     * the listener hears of the original. The listener hears the outcome on {@code replyOn}.
     *
     * @throws Refused at once, when the engine is full or stopping (the listener is then not called)
     */
    public void publish(Executor replyOn, String room, String id, String user, String from, String text,
                        PublishListener listener) {
        enqueue(new Publish(replyOn, room, id, user, from, text, listener));
    }

    /**
     * Messages of {@code room} after {@code since}, at most {@code limit}: at once if there are any,
     * else as soon as one is stored, if {@code wait} is true. The listener hears on {@code replyOn}. A
     * waiting poll ends only by an answer or by {@link Poll#cancel()}: its caller keeps the clock.
     *
     * @throws Refused at once, when the engine is full or stopping (the listener is then not called)
     */
    public Poll poll(String room, long since, int limit, boolean wait, Executor replyOn, PollListener listener) {
        Waiter w = new Waiter(room, since, Math.min(limit, MAX_REPLAY), replyOn, listener);
        enqueue(new PollCommand(w, wait));
        return w;
    }

    /** A poll that may still be waiting. */
    public interface Poll {
        /** Stops waiting; the listener is not called afterwards by the engine unless it already was. */
        void cancel();
    }

    /** Messages stored since this engine started; for metrics. */
    public long storedCount() {
        return storedCount.sum();
    }

    /** Messages handed to subscribers and polls since this engine started; for metrics. */
    public long deliveryCount() {
        return deliveryCount.sum();
    }

    /**
     * Reads stored history off the event loop. {@code before} and {@code since} are -1 when absent.
     * The future completes on a reader thread, failing with the store's {@link StoreException} if the store does.
     *
     * @throws Refused at once, when the engine is stopping
     */
    public CompletableFuture<List<StoredMessage>> history(String room, long before, long since, int limit) {
        if (!accepting) {
            throw new Refused(Failure.SHUTTING_DOWN);
        }
        try {
            return readHistory(room, before, since, limit);
        } catch (RejectedExecutionException e) {
            throw new Refused(Failure.SHUTTING_DOWN);
        }
    }

    private CompletableFuture<List<StoredMessage>> readHistory(String room, long before, long since, int limit) {
        return CompletableFuture.supplyAsync(() -> {
            if (since >= 0) {
                return oldestWithinBudget(store.after(room, since, Long.MAX_VALUE, limit));
            }
            if (before >= 0) {
                return newestWithinBudget(store.before(room, before, limit));
            }
            return newestWithinBudget(store.latest(room, limit));
        }, readers);
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
        readers.shutdown();
        try {
            readers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
        Map<Executor, LoopWork> work = new HashMap<>();
        Map<Room, RoomChange> changes = new LinkedHashMap<>();

        for (Command c : batch) {
            if (c instanceof Subscribe s) {
                subscribe(s, work, changes);
            }
        }
        publish(batch, work, changes);
        for (Command c : batch) {
            if (c instanceof Unsubscribe u) {
                Room room = rooms.get(u.subscription().room);
                if (room != null && room.remove(u.subscription())) {
                    changes.computeIfAbsent(room, r -> new RoomChange()).left.add(u.subscription().name);
                }
            } else if (c instanceof CancelPoll cp) {
                Room room = rooms.get(cp.waiter().room);
                if (room != null) {
                    room.waiters().remove(cp.waiter());
                }
            } else if (c instanceof PollCommand pc) {
                poll(pc, work);
            }
        }
        fanOut(changes, work);
        work.forEach(LocalBroker::post);
    }

    private void poll(PollCommand cmd, Map<Executor, LoopWork> work) {
        Waiter w = cmd.waiter();
        Room room = room(w.room);
        if (room == null) {
            on(work, w.replyOn).then.add(() -> w.listener.failed(Failure.STORE_UNAVAILABLE));
            return;
        }
        // A client ahead of the room (its data was lost or it asks another server) must not wait forever.
        if (room.lastSeq() != w.since || !cmd.waits()) {
            replayAfter(room, w.since, w.limit, w.replyOn, work, replay -> answer(w, replay), w.listener::failed);
        } else {
            room.waiters().add(w);
        }
    }

    /**
     * Sends {@code room}'s messages after {@code since} to {@code answer} on {@code executor}: from
     * memory in this batch's task when memory has them all, else read on the reader pool.
     */
    private void replayAfter(Room room, long since, int limit, Executor executor, Map<Executor, LoopWork> work,
                             Consumer<Replay> answer,
                             Consumer<Failure> failure) {
        long upTo = room.lastSeq();
        long first = room.firstSeq();
        if (room.inMemoryAfter(since)) {
            List<StoredMessage> all = room.after(since);
            List<StoredMessage> some = oldestWithinBudget(all.size() > limit ? all.subList(0, limit) : all);
            Replay replay = new Replay(upTo, first, List.copyOf(some), some.size() == all.size());
            on(work, executor).joins.add(() -> answer.accept(replay));
            return;
        }
        String name = room.name;
        readers.execute(() -> {
            try {
                List<StoredMessage> history = oldestWithinBudget(store.after(name, since, upTo, limit));
                // Retention may have deleted more since the sequencer looked: trust what was read.
                long firstNow = first;
                if (!history.isEmpty() && history.getFirst().seq() > since + 1) {
                    firstNow = Math.max(first, history.getFirst().seq());
                }
                long stored = upTo - Math.max(since, firstNow - 1);
                Replay replay = new Replay(upTo, firstNow, history, stored <= history.size());
                post(executor, () -> answer.accept(replay));
            } catch (StoreException e) {
                log.error("reading history of room {} failed", name, e);
                post(executor, () -> failure.accept(Failure.STORE_UNAVAILABLE));
            }
        });
    }

    private void subscribe(Subscribe cmd, Map<Executor, LoopWork> work, Map<Room, RoomChange> changes) {
        Subscription s = cmd.subscription();
        LoopWork loop = on(work, s.subscriber.executor());
        Room room = room(s.room);
        if (room == null) {
            loop.then.add(() -> s.fail(Failure.STORE_UNAVAILABLE));
            return;
        }
        room.add(s);
        changes.computeIfAbsent(room, r -> new RoomChange()).joined.add(s.name);
        int members = room.memberCount();
        long since = cmd.since();
        if (since < 0) {
            List<StoredMessage> history = newestWithinBudget(room.newest(historyOnJoin));
            Replay replay = new Replay(room.lastSeq(), room.firstSeq(), history, true);
            loop.joins.add(() -> s.complete(members, replay));
        } else {
            // Live frames that arrive before a history read from disk wait in the subscription.
            replayAfter(room, since, MAX_REPLAY, s.subscriber.executor(), work,
                    replay -> s.complete(members, replay), s::fail);
        }
    }

    private void publish(List<Command> batch, Map<Executor, LoopWork> work, Map<Room, RoomChange> changes) {
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
                fail(p, Failure.STORE_UNAVAILABLE, work);
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
                fail(p, Failure.STORE_UNAVAILABLE, work);
                continue;
            }
            if (stored != null) {
                on(work, p.replyOn()).then.add(() -> p.listener().stored(stored));
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
            publishes.forEach(p -> fail(p, Failure.STORE_UNAVAILABLE, work));
            resends.forEach(p -> fail(p, Failure.STORE_UNAVAILABLE, work));
            return;
        }
        storedCount.add(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            StoredMessage m = messages.get(i);
            Publish p = publishes.get(i);
            Room room = rooms.get(m.room());
            room.append(m);
            changes.computeIfAbsent(room, r -> new RoomChange()).messages.add(m);
            on(work, p.replyOn()).then.add(() -> p.listener().stored(m));
        }
        for (int i = 0; i < resends.size(); i++) {
            Publish p = resends.get(i);
            StoredMessage original = originals.get(i);
            on(work, p.replyOn()).then.add(() -> p.listener().stored(original));
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

    /** This batch's task for one event loop. */
    private static LoopWork on(Map<Executor, LoopWork> work, Executor executor) {
        return work.computeIfAbsent(executor, e -> new LoopWork());
    }

    private static void fail(Publish p, Failure f, Map<Executor, LoopWork> work) {
        on(work, p.replyOn()).then.add(() -> p.listener().failed(f));
    }

    private void fanOut(Map<Room, RoomChange> changes, Map<Executor, LoopWork> work) {
        for (Map.Entry<Room, RoomChange> e : changes.entrySet()) {
            Room room = e.getKey();
            RoomChange change = e.getValue();
            List<Frame> frames = new ArrayList<>(change.messages.size() + 1);
            for (StoredMessage m : change.messages) {
                frames.add(new Frame(m.seq(), encoder.message(m)));
            }
            if (!change.joined.isEmpty() || !change.left.isEmpty()) {
                frames.add(new Frame(0, encoder.presence(room.name, room.memberCount(), change.joined, change.left)));
            }
            Frame[] framesArray = frames.toArray(Frame[]::new);
            room.membersByExecutor().forEach((executor, members) ->
                    on(work, executor).rooms.add(new Delivery(members, framesArray)));
            deliveryCount.add((long) change.messages.size() * room.memberCount());
            if (!change.messages.isEmpty() && !room.waiters().isEmpty()) {
                answerWaiters(room, work);
            }
        }
    }

    private void answerWaiters(Room room, Map<Executor, LoopWork> work) {
        for (Waiter w : room.waiters()) {
            replayAfter(room, w.since, w.limit, w.replyOn, work, replay -> answer(w, replay), w.listener::failed);
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

    /** The oldest messages, in order, whose text fits {@link #REPLAY_TEXT_BUDGET}; at least one. */
    static List<StoredMessage> oldestWithinBudget(List<StoredMessage> messages) {
        long total = 0;
        for (int i = 0; i < messages.size(); i++) {
            total += messages.get(i).text().length();
            if (total > REPLAY_TEXT_BUDGET && i > 0) {
                return messages.subList(0, i);
            }
        }
        return messages;
    }

    /** The newest messages, in order, whose text fits {@link #REPLAY_TEXT_BUDGET}; at least one. */
    static List<StoredMessage> newestWithinBudget(List<StoredMessage> messages) {
        long total = 0;
        for (int i = messages.size() - 1; i >= 0; i--) {
            total += messages.get(i).text().length();
            if (total > REPLAY_TEXT_BUDGET && i < messages.size() - 1) {
                return messages.subList(i + 1, messages.size());
            }
        }
        return messages;
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

    private static void post(Executor executor, Runnable task) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            // The connection's event loop has shut down: the server is stopping and the client is gone.
            log.debug("event loop gone, dropping a delivery", e);
        }
    }

    private sealed interface Command permits Subscribe, Unsubscribe, Publish, PollCommand, CancelPoll { }

    private record Subscribe(Subscription subscription, long since) implements Command { }

    private record Unsubscribe(Subscription subscription) implements Command { }

    private record Publish(Executor replyOn, String room, String id, String user, String from, String text,
                           PublishListener listener) implements Command { }

    private record PollCommand(Waiter waiter, boolean waits) implements Command { }

    private record CancelPoll(Waiter waiter) implements Command { }

    /** Who sent which id where: what makes a resend recognisable. */
    private record SentKey(String room, String user, String id) { }

    /** A poll waiting in a room for its next message. Identity matters: it is removed by reference. */
    final class Waiter implements Poll {
        final String room;
        final long since;
        final int limit;
        final Executor replyOn;
        final PollListener listener;

        Waiter(String room, long since, int limit, Executor replyOn, PollListener listener) {
            this.room = room;
            this.since = since;
            this.limit = limit;
            this.replyOn = replyOn;
            this.listener = listener;
        }

        @Override
        public void cancel() {
            // Never refused, like unsubscribe: a room must not keep a dead waiter.
            inbox.add(new CancelPoll(this));
        }
    }

    /** What one batch changed in one room. */
    private static final class RoomChange {
        final List<StoredMessage> messages = new ArrayList<>();
        final List<String> joined = new ArrayList<>();
        final List<String> left = new ArrayList<>();
    }

    private record Delivery(Subscription[] members, Frame[] frames) { }

    /**
     * Everything one batch does on one event loop, as a single task: finish joins first (so their
     * history goes before live frames), then deliver, then tell publishers.
     */
    private static final class LoopWork implements Runnable {
        final List<Runnable> joins = new ArrayList<>();
        final List<Delivery> rooms = new ArrayList<>();
        final List<Runnable> then = new ArrayList<>();

        @Override
        public void run() {
            joins.forEach(Runnable::run);
            for (Delivery d : rooms) {
                // Frame by frame, so that a subscriber's transport sees one broadcast go to everyone on
                // this loop before the next: it can then frame each once and share it.
                for (Frame f : d.frames()) {
                    for (Subscription s : d.members()) {
                        s.offer(f);
                    }
                }
                for (Subscription s : d.members()) {
                    s.subscriber.flush();
                }
            }
            then.forEach(Runnable::run);
        }
    }

    /** A request the engine turned down at once. */
    public static final class Refused extends RuntimeException {
        private final Failure failure;

        Refused(Failure failure) {
            super(failure.name(), null, false, false);
            this.failure = failure;
        }

        public Failure failure() {
            return failure;
        }
    }
}
