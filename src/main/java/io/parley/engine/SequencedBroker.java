package io.parley.engine;

import io.parley.store.HistoryStore;
import io.parley.store.StoreException;
import io.parley.store.StoredMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongConsumer;

/**
 * What both brokers share: the queue of commands, the one sequencer thread that drains it in
 * batches, the requests of {@link Broker} turned into commands, an orderly close, and the steps of a
 * batch that do not depend on where the order comes from (answering polls, retention, member pages).
 * {@link LocalBroker} and {@link RedisBroker} differ in how a batch is sequenced and stored, which is
 * {@link #turn}.
 *
 * <p><b>Presence leases.</b> With a grace above 0, a disconnected subscription's entry lingers in its
 * room for the grace, and a named poll keeps a lease renewed by each poll ({@link Room}); a turn (at
 * least every 50 ms) expires what is due and announces it {@code left}. No timer thread: the rooms with
 * leases are a set the turn walks, each skipped until its earliest expiry.
 *
 * <p>Threads: the request methods run on callers' event loops and only enqueue; {@link #turn} and
 * everything it calls run on the sequencer thread, which alone touches {@link #rooms}.
 */
abstract class SequencedBroker implements Broker {

    private static final Logger log = LoggerFactory.getLogger(SequencedBroker.class);

    /** Commands handled per batch: bounds the data one connection may get in one task. */
    static final int MAX_BATCH = 256;
    static final int QUEUE_CAPACITY = 65_536;

    final HistoryStore store;
    final int historyOnJoin;
    final long retainMessages;
    final int recentCapacity;
    final LongAdder storedCount = new LongAdder();
    final LongAdder deliveryCount = new LongAdder();
    /** Told how long each batch's write to the store took; set once, before traffic, by the metrics. */
    private volatile LongConsumer commitNanos = nanos -> { };
    final FanOut fanOut;
    final Replays replays;
    final BlockingQueue<Command> inbox = new LinkedBlockingQueue<>();
    final Thread.UncaughtExceptionHandler essentialThreadDied;
    /** The rooms this node serves. Sequencer thread only. */
    final Map<String, Room> rooms = new HashMap<>();
    /** Rooms holding leases, which a turn expires. Sequencer thread only. */
    final Set<Room> leased = new LinkedHashSet<>();
    /** How long a disconnected member lingers, and a poller after its last poll; 0: leases are off. */
    final long graceNanos;
    private final Thread sequencer;
    volatile boolean accepting = true;
    volatile boolean running = true;

    /**
     * @param retainMessages    messages kept per room, 0 for all; when not 0 it must exceed what a room
     *                          holds in memory, so memory never holds a deleted message
     * @param presenceNamesUpTo the largest room whose joins and leaves are named in presence frames
     * @param presenceGraceMillis how long a disconnected member's entry lingers, and a long poller's
     *                          after its last poll; 0 turns leases off (a close leaves at once, polls are
     *                          nobody's presence)
     */
    SequencedBroker(HistoryStore store, BroadcastEncoder encoder, int historyOnJoin, long retainMessages,
                    int presenceNamesUpTo, long presenceGraceMillis, String threadPrefix,
                    Thread.UncaughtExceptionHandler essentialThreadDied) {
        if (presenceNamesUpTo < 0) {
            throw new IllegalArgumentException("presenceNamesUpTo must not be negative");
        }
        if (presenceGraceMillis < 0) {
            throw new IllegalArgumentException("presenceGraceMillis must not be negative");
        }
        this.graceNanos = TimeUnit.MILLISECONDS.toNanos(presenceGraceMillis);
        this.store = store;
        this.historyOnJoin = historyOnJoin;
        this.retainMessages = retainMessages;
        // Keep enough recent messages that joins and short reconnects never touch the disk.
        this.recentCapacity = Math.max(historyOnJoin, 200);
        if (retainMessages != 0 && retainMessages <= recentCapacity) {
            throw new IllegalArgumentException("retainMessages must be 0 or more than " + recentCapacity);
        }
        this.essentialThreadDied = essentialThreadDied;
        this.fanOut = new FanOut(encoder, deliveryCount, presenceNamesUpTo);
        this.replays = new Replays(store, threadPrefix, essentialThreadDied);
        this.sequencer = new Thread(this::runSequencer, threadPrefix + "-sequencer");
        // Only an Error gets past the loop's catch: the sequencer is then gone, and nothing is ordered.
        this.sequencer.setUncaughtExceptionHandler(essentialThreadDied);
    }

    /** Starts the sequencer: the last step of a subclass's constructor, once all it uses is set. */
    final void startSequencer() {
        sequencer.start();
    }

    @Override
    public final Subscription subscribe(String room, Subscriber subscriber, String user, String name, long since,
                                        ReadQueue.Asker asker, JoinListener listener) {
        Subscription s = new Subscription(room, subscriber, user, name, listener, this);
        enqueue(new Subscribe(s, since, asker));
        return s;
    }

    @Override
    public final void unsubscribe(Subscription s) {
        s.close();
        // Never refused, even when full or stopping: otherwise the room would keep a dead member.
        inbox.add(new Unsubscribe(s, false));
    }

    @Override
    public final void disconnect(Subscription s) {
        s.close();
        inbox.add(new Unsubscribe(s, true));
    }

    @Override
    public final void publish(Executor replyOn, String room, String id, String user, String from, String text,
                              PublishListener listener) {
        enqueue(new Publish(replyOn, room, id, user, from, text, listener));
    }

    @Override
    public final Poll poll(ReadQueue.Asker asker, String room, String user, String name, long since, int limit,
                           boolean wait, Executor replyOn, PollListener listener) {
        // Cancelling is never refused, like unsubscribe: a room must not keep a dead waiter.
        Waiter w = new Waiter(asker, room, user, name, since, Math.min(limit, Replays.MAX_REPLAY), replyOn, listener,
                waiter -> inbox.add(new CancelPoll(waiter)));
        enqueue(new PollCommand(w, wait));
        return w;
    }

    @Override
    public final void delete(Executor replyOn, String room, long after, long upTo, String by,
                             DeleteListener listener) {
        enqueue(new Delete(replyOn, room, after, upTo, by, listener));
    }

    @Override
    public void members(String room, long after, int limit, Executor replyOn, MembersListener listener) {
        enqueue(new MembersCommand(room, after, Math.min(limit, MAX_MEMBERS_PAGE), replyOn, listener));
    }

    @Override
    public final long storedCount() {
        return storedCount.sum();
    }

    @Override
    public final long deliveryCount() {
        return deliveryCount.sum();
    }

    @Override
    public final void onCommit(LongConsumer nanos) {
        this.commitNanos = Objects.requireNonNull(nanos);
    }

    /** Reports a batch's store write that began at {@code startNanos} and has just ended. Sequencer thread. */
    final void committed(long startNanos) {
        commitNanos.accept(System.nanoTime() - startNanos);
    }

    @Override
    public final ReadQueue.Asker asker() {
        return replays.asker();
    }

    @Override
    public final CompletableFuture<List<StoredMessage>> history(ReadQueue.Asker asker, String room, long before,
                                                                long since, int limit) {
        if (!accepting) {
            throw new Refused(Failure.SHUTTING_DOWN);
        }
        return replays.history(asker, room, before, since, limit);
    }

    @Override
    public final CompletableFuture<List<RoomListing>> rooms(ReadQueue.Asker asker, int limit) {
        if (!accepting) {
            throw new Refused(Failure.SHUTTING_DOWN);
        }
        CompletableFuture<List<RoomListing>> answer = new CompletableFuture<>();
        // The store's part on a reader thread, in the asker's turn; the live counts on the sequencer.
        replays.rooms(asker, limit).whenComplete((stored, failure) -> {
            if (failure != null) {
                answer.completeExceptionally(failure);
                return;
            }
            try {
                enqueue(new RoomsCommand(stored, limit, answer));
            } catch (Refused e) {
                answer.completeExceptionally(e);
            }
        });
        return answer;
    }

    final void enqueue(Command c) {
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
     * sent), then stops the sequencer and the readers, and then what the subclass holds ({@link #closed}).
     */
    @Override
    public final void close() {
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
            } else if (c instanceof MembersCommand mc) {
                post(mc.replyOn(), () -> mc.listener().failed(Failure.SHUTTING_DOWN));
            } else if (c instanceof Delete d) {
                post(d.replyOn(), () -> d.listener().failed(Failure.SHUTTING_DOWN));
            } else if (c instanceof RoomsCommand rc) {
                rc.answer().completeExceptionally(new Refused(Failure.SHUTTING_DOWN));
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
        closed();
    }

    /** After the sequencer and the readers stopped: close what the subclass holds. */
    void closed() {
    }

    private void runSequencer() {
        List<Command> batch = new ArrayList<>(MAX_BATCH);
        while (running || !inbox.isEmpty()) {
            try {
                Command first = inbox.poll(50, TimeUnit.MILLISECONDS);
                if (first != null) {
                    batch.add(first);
                    inbox.drainTo(batch, MAX_BATCH - 1);
                }
                turn(batch, System.nanoTime());
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

    /**
     * One turn of the sequencer: a batch of commands, or none when 50 ms passed without one (the clock
     * of whatever the broker does on its own: presence counts, catching up, forgetting idle rooms).
     */
    abstract void turn(List<Command> batch, long now);

    /**
     * One turn's work, in the order both brokers need: leases that ran out; joins and lingering
     * departures in their queue order (a reconnect in the same batch finds the entry it takes over);
     * the batch's sends; every other command in its order; the broker's own clockwork
     * ({@link #afterCommands}); the fan-out and the polls it answers; then one task per event loop.
     */
    final void process(List<Command> batch, long now) {
        LoopTasks tasks = new LoopTasks(essentialThreadDied);
        FanOut.Changes changes = fanOut.changes();
        expireLeases(now, changes);
        for (Command c : batch) {
            if (c instanceof Subscribe s) {
                subscribe(s, tasks, changes);
            } else if (c instanceof Unsubscribe u && u.lingers()) {
                removed(u, changes);
            }
        }
        publish(batch, tasks, changes);
        for (Command c : batch) {
            switch (c) {
                case Unsubscribe u when !u.lingers() -> removed(u, changes);
                case CancelPoll cp -> cancelPoll(cp);
                case PollCommand pc -> poll(pc, tasks, changes);
                case MembersCommand mc -> members(mc, tasks);
                case Delete d -> delete(d, room(d.room()), changes, tasks);
                case RoomsCommand rc -> listRooms(rc);
                default -> handle(c, changes, now);
            }
        }
        afterCommands(now);
        for (Room room : changes.deliver(tasks)) {
            answerWaiters(room, tasks);
        }
        if (fanOut.countsOwed()) {
            fanOut.sendDueCounts(now, tasks);
        }
        tasks.post();
    }

    /** The room as this broker serves it, loaded on first use; null if its store failed. Sequencer thread. */
    abstract Room room(String name);

    /** Adds a join's subscription to its room and answers it, history first. Sequencer thread. */
    abstract void subscribe(Subscribe cmd, LoopTasks tasks, FanOut.Changes changes);

    /** Orders, stores and acknowledges the batch's sends, and adds them to {@code changes}. Sequencer thread. */
    abstract void publish(List<Command> batch, LoopTasks tasks, FanOut.Changes changes);

    /** A command only this broker knows (none by default; the batch's joins and sends are done by then). */
    void handle(Command c, FanOut.Changes changes, long now) {
    }

    /** What the broker does every turn after the commands, before the fan-out (nothing by default). */
    void afterCommands(long now) {
    }

    /**
     * Brings {@code room} up to {@code since} before a join or poll that asks past what this node has
     * (nothing to do on one node, where the room's order is this node's own).
     */
    void catchUp(Room room, long since, FanOut.Changes changes) {
    }

    private void poll(PollCommand cmd, LoopTasks tasks, FanOut.Changes changes) {
        Waiter w = cmd.waiter();
        Room room = room(w.room);
        if (room == null) {
            tasks.then(w.replyOn, () -> w.listener.failed(Failure.STORE_UNAVAILABLE));
            return;
        }
        catchUp(room, w.since, changes);
        poll(room, cmd, tasks, changes);
    }

    /** Answers a {@code members} request from the room as this node has it. */
    final void members(MembersCommand mc, LoopTasks tasks) {
        // A room not in memory has nobody in it: no need to load it from the store.
        Room room = rooms.get(mc.room());
        MembersPage page = room == null ? new MembersPage(0, List.of(), -1) : room.page(mc.after(), mc.limit());
        tasks.then(mc.replyOn(), () -> mc.listener().answered(page));
    }

    /**
     * Leaves a poll waiting in {@code room}, or answers it at once when there is something to answer.
     * A named poller is a member of the room by its lease.
     */
    final void poll(Room room, PollCommand cmd, LoopTasks tasks, FanOut.Changes changes) {
        Waiter w = cmd.waiter();
        // A client ahead of the room (its data was lost or it asks another server) must not wait forever.
        boolean waits = room.lastSeq() == w.since && cmd.waits();
        if (leases() && w.user != null) {
            if (room.polled(w.user, w.name, graceDeadline(), waits)) {
                entryJoined(room, w.name, changes);
            }
            if (room.hasLeases()) {
                leased.add(room);
            }
        }
        if (!waits) {
            replays.after(room, w.asker, w.since, w.limit, w.replyOn, tasks, replay -> answer(w, replay),
                    w.listener::failed);
        } else {
            room.waiters().add(w);
        }
    }

    /** The room got messages: every poll waiting there is answered with them. */
    final void answerWaiters(Room room, LoopTasks tasks) {
        for (Waiter w : room.waiters()) {
            pollEnded(room, w);
            replays.after(room, w.asker, w.since, w.limit, w.replyOn, tasks, replay -> answer(w, replay),
                    w.listener::failed);
        }
        room.waiters().clear();
    }

    /** A poll gave up waiting (its caller's clock ran out, or its connection closed). */
    final void cancelPoll(CancelPoll cp) {
        Room room = rooms.get(cp.waiter().room);
        if (room != null && room.waiters().remove(cp.waiter())) {
            pollEnded(room, cp.waiter());
        }
    }

    private void pollEnded(Room room, Waiter w) {
        if (leases() && w.user != null) {
            room.pollEnded(w.user, graceDeadline());
        }
    }

    /** Adds a subscription to its room: a member that joined, or one that took a lease over unseen. */
    final void added(Room room, Subscription s, FanOut.Changes changes) {
        if (room.add(s)) {
            entryJoined(room, s.name, changes);
        }
    }

    /** Takes a subscription out of its room: gone at once, or lingering for the grace when it disconnected. */
    final void removed(Unsubscribe u, FanOut.Changes changes) {
        Subscription s = u.subscription();
        Room room = rooms.get(s.room);
        if (room == null) {
            return;
        }
        if (room.remove(s, u.lingers() && leases() ? graceDeadline() : 0)) {
            entryLeft(room, s.name, changes);
        } else if (room.hasLeases()) {
            leased.add(room);
        }
    }

    /** Announces {@code left} for every lease whose time is up: each turn, batch or not. */
    final void expireLeases(long now, FanOut.Changes changes) {
        for (Iterator<Room> it = leased.iterator(); it.hasNext(); ) {
            Room room = it.next();
            for (String name : room.expire(now)) {
                entryLeft(room, name, changes);
            }
            if (!room.hasLeases()) {
                it.remove();
            }
        }
    }

    final boolean leases() {
        return graceNanos > 0;
    }

    /** A lease's expiry from now (nanoTime); never 0, which means "no lingering" to {@link Room#remove}. */
    private long graceDeadline() {
        long deadline = System.nanoTime() + graceNanos;
        return deadline == 0 ? 1 : deadline;
    }

    /** A member entry of this node appeared in the room: announce it. RedisBroker also tells Redis. */
    void entryJoined(Room room, String name, FanOut.Changes changes) {
        changes.joined(room, name);
    }

    /** A member entry of this node is gone from the room: announce it. RedisBroker also tells Redis. */
    void entryLeft(Room room, String name, FanOut.Changes changes) {
        changes.left(room, name);
    }

    /**
     * Answers a rooms list: the store's rooms (read before this turn) with the live counts of the rooms
     * this node has in memory, and the rooms that have members but no message yet.
     */
    final void listRooms(RoomsCommand rc) {
        Map<String, RoomListing> listed = new LinkedHashMap<>();
        List<String> elsewhere = new ArrayList<>();
        for (HistoryStore.RoomActivity a : rc.stored()) {
            Room room = rooms.get(a.room());
            if (room == null) {
                listed.put(a.room(), new RoomListing(a.room(), a.lastSeq(), 0, a.lastTime()));
                elsewhere.add(a.room());
            } else {
                Long time = lastTime(room);
                listed.put(a.room(), new RoomListing(a.room(), Math.max(a.lastSeq(), room.lastSeq()),
                        room.presenceCount(), time == null ? a.lastTime() : Math.max(time, a.lastTime())));
            }
        }
        for (Room room : rooms.values()) {
            if (!listed.containsKey(room.name) && room.presenceCount() > 0) {
                listed.put(room.name, new RoomListing(room.name, room.lastSeq(), room.presenceCount(), lastTime(room)));
            }
        }
        membersElsewhere(elsewhere).whenComplete((counts, failure) -> {
            Map<String, Integer> known = failure == null ? counts : Map.of();
            List<RoomListing> out = new ArrayList<>(listed.size());
            for (RoomListing r : listed.values()) {
                Integer n = known.get(r.room());
                out.add(n == null ? r : new RoomListing(r.room(), r.seq(), n, r.lastTime()));
            }
            out.sort(MOST_RECENT_FIRST);
            rc.answer().complete(List.copyOf(out.subList(0, Math.min(rc.limit(), out.size()))));
        });
    }

    private static final Comparator<RoomListing> MOST_RECENT_FIRST =
            Comparator.comparing(RoomListing::lastTime, Comparator.nullsLast(Comparator.reverseOrder()))
                    .thenComparing(RoomListing::room);

    private static Long lastTime(Room room) {
        List<StoredMessage> newest = room.newest(1);
        return newest.isEmpty() ? null : newest.getFirst().time();
    }

    /**
     * Member counts of rooms this node does not hold in memory. One node: nobody is in them. Several:
     * what the cluster's presence says. May complete on another thread; never fails the list.
     */
    CompletionStage<Map<String, Integer>> membersElsewhere(List<String> rooms) {
        return CompletableFuture.completedFuture(Map.of());
    }

    private void answer(Waiter w, Replay replay) {
        deliveryCount.add(replay.messages().size());
        w.listener.answered(replay);
    }

    /**
     * A moderator's deletion, after the batch's publishes (so it may delete a message of the same
     * batch): the store turns the messages into tombstones, then {@link #tombstoned} puts them in the
     * room's order, and the moderator hears which seqs it deleted.
     */
    final void delete(Delete d, Room room, FanOut.Changes changes, LoopTasks tasks) {
        if (room == null) {
            tasks.then(d.replyOn(), () -> d.listener().failed(Failure.STORE_UNAVAILABLE));
            return;
        }
        long at = System.currentTimeMillis();
        List<Long> seqs;
        try {
            seqs = store.tombstone(d.room(), d.after(), d.upTo(), d.by(), at);
        } catch (StoreException e) {
            log.error("deleting messages {} to {} of room {} failed", d.after() + 1, d.upTo(), d.room(), e);
            tasks.then(d.replyOn(), () -> d.listener().failed(Failure.STORE_UNAVAILABLE));
            return;
        }
        // The range told is the one deleted: a clear past the room's end must not reach later messages.
        Tombstones t = new Tombstones(d.room(), d.after(), seqs.isEmpty() ? d.upTo() : seqs.getLast(), d.by(), at,
                seqs);
        if (!seqs.isEmpty()) {
            tombstoned(room, t, changes);
        }
        tasks.then(d.replyOn(), () -> d.listener().deleted(t));
    }

    /** Stored tombstones, to put into the room's memory and order (and, with several nodes, to announce). */
    abstract void tombstoned(Room room, Tombstones t, FanOut.Changes changes);

    /** Deletes a room's oldest messages once it holds a tenth more than it retains (in one go, not per message). */
    final void applyRetention(Room room) {
        if (retainMessages == 0 || room == null) {
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

    /**
     * Answers a send whose (room, user, id) is already stored: with the original's ack when it repeats
     * the original's text (a resend after a lost answer), else with {@link Failure#ID_REUSED}, so that a
     * new text under an old id is refused out loud rather than dropped behind the original's ack.
     */
    static void answerResend(Publish p, StoredMessage original, LoopTasks tasks) {
        // A deleted original has no text to compare: the resend is still the same message, not a new one.
        if (original.deleted() || original.text().equals(p.text())) {
            tasks.then(p.replyOn(), () -> p.listener().stored(original));
        } else {
            fail(p, Failure.ID_REUSED, tasks);
        }
    }

    static void fail(Publish p, Failure f, LoopTasks tasks) {
        tasks.then(p.replyOn(), () -> p.listener().failed(f));
    }

    final void post(Executor executor, Runnable task) {
        LoopTasks.post(executor, task, essentialThreadDied);
    }

    /** A request or an event for the sequencer. The brokers add their own kinds. */
    interface Command { }

    record Subscribe(Subscription subscription, long since, ReadQueue.Asker asker) implements Command { }

    /** @param lingers the connection closed: the entry lingers for the grace rather than leaving at once */
    record Unsubscribe(Subscription subscription, boolean lingers) implements Command { }

    record Publish(Executor replyOn, String room, String id, String user, String from, String text,
                   PublishListener listener) implements Command { }

    record PollCommand(Waiter waiter, boolean waits) implements Command { }

    record CancelPoll(Waiter waiter) implements Command { }

    record Delete(Executor replyOn, String room, long after, long upTo, String by, DeleteListener listener)
            implements Command { }

    record MembersCommand(String room, long after, int limit, Executor replyOn, MembersListener listener)
            implements Command { }

    /** A rooms list: the store's part already read, to be merged with the live counts. */
    record RoomsCommand(List<HistoryStore.RoomActivity> stored, int limit, CompletableFuture<List<RoomListing>> answer)
            implements Command { }
}
