package io.parley.engine;

import io.parley.engine.cluster.RedisAddress;
import io.parley.engine.cluster.RedisLink;
import io.parley.engine.cluster.RedisPresence;
import io.parley.engine.cluster.RoomBatchCodec;
import io.parley.store.HistoryStore;
import io.parley.store.PostgresHistoryStore;
import io.parley.store.StoreException;
import io.parley.store.StoredMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One node of several sharing rooms: PostgreSQL orders and keeps every message, Redis tells the other
 * nodes. The second {@link Broker}, beside {@link LocalBroker}; it keeps the same ordering contract
 * across nodes.
 *
 * <p><b>The way of one message.</b> A client's send reaches this node's sequencer, which batches
 * commands as {@link LocalBroker}'s does. The batch's messages go to {@link PostgresHistoryStore#sequence}
 * in one transaction: each room's row is locked until commit, so every node writing a room waits its
 * turn, and the room's seqs are gapless and committed in order; a (room, user, id) already stored,
 * through any node, comes back as the original. After the commit the senders are acknowledged, and the
 * batch's messages of each room are published once on the room's Redis channel ({@link RedisLink}).
 * Every node (this one for its own messages, the others when Redis delivers them) passes the messages
 * through the room's <em>order gate</em>, then to its local members: encoded once per node, one task
 * per event loop ({@link FanOut}, {@link LoopTasks}), behind each member's {@link Subscription}.
 *
 * <p><b>The order gate.</b> A node hands a room's members message {@code n + 1} only after {@code n}.
 * Messages of different nodes may arrive out of order (two nodes commit 5 and 6; 6's publish overtakes
 * 5's): an early one is held back. A gap still open after {@value #GAP_WAIT_MILLIS} ms is read from
 * PostgreSQL. A publish can also be lost altogether (Redis restarting, a node killed between its commit
 * and its publish); then no later message shows the gap, so every {@value #RECONCILE_MILLIS} ms the node
 * asks PostgreSQL for the last seq of each room it serves and reads what it is missing. <b>Bound:</b> a
 * committed message reaches every member of every live node within about
 * {@value #RECONCILE_MILLIS} ms plus a read, whatever happened to its publish.
 *
 * <p><b>Joins and history.</b> A node serves a room after subscribing to its channel and then loading
 * its tail from PostgreSQL, so that every message is either in the tail or arrives on the channel
 * (both, at worst: the gate drops what it has). From then on joins, polls and history work as on one
 * node, from memory or from PostgreSQL ({@link Replays}).
 *
 * <p><b>Presence.</b> Each node records its members in Redis ({@link RedisPresence}) and publishes its
 * joins and leaves on the room's channel; a room's count is this node's members plus the others', as
 * loaded with the room and kept up by their presence changes. A node that dies is swept by a live one
 * within the heartbeat's TTL plus a sweep, which announces its members' departure on every node.
 * Leases ({@link SequencedBroker}) are per node: a lingering entry is in Redis like any member until it
 * expires, and a user who reconnects through another node is a new entry there (its name counted twice
 * until the old entry's grace ends); a killed node's leases are swept with its other members.
 *
 * <p><b>Faults.</b> PostgreSQL down: sends are answered {@link Failure#STORE_UNAVAILABLE} (nothing is
 * acknowledged that is not committed); members stay connected; the pool reconnects when it is back.
 * Redis down or emptied: publishes are lost and counted, subscriptions come back with Redis, and the
 * reconciliation delivers what was committed meanwhile. Rate limits are per node.
 *
 * <p><b>Threads.</b> As {@link LocalBroker}: callers only enqueue; the sequencer owns the rooms and the
 * gate, and is the only caller of {@code sequence}. Redis's threads only decode and enqueue. One
 * <em>catch-up</em> thread reads last seqs and gaps from PostgreSQL and enqueues what it found.
 */
public final class RedisBroker extends SequencedBroker {

    private static final Logger log = LoggerFactory.getLogger(RedisBroker.class);

    /** How long a gap may stay open before it is read from PostgreSQL: past the usual reordering. */
    static final long GAP_WAIT_MILLIS = 200;
    /** How often a node compares its rooms with PostgreSQL: the bound on a lost publish. */
    static final long RECONCILE_MILLIS = 1_000;
    private static final long ROOM_IDLE_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** Messages one catch-up read brings; a longer gap takes several. */
    private static final int FILL_LIMIT = 1000;

    /** The same store as {@link #store}, with what only several nodes need (sequence, last seqs). */
    private final PostgresHistoryStore postgres;
    private final RedisLink link;
    private final RedisPresence presence;
    private final String nodeId;
    private final AtomicLong malformed = new AtomicLong();
    private volatile Announcements announcements;
    private final ExecutorService catchUpReads;
    /** Sequencer thread only. */
    private final Map<Room, Gate> gates = new HashMap<>();
    /** This batch's joins and leaves of this node's entries, announced to the others at its end. Sequencer only. */
    private final Map<Room, List<String>> joinedHere = new LinkedHashMap<>();
    private final Map<Room, List<String>> leftHere = new LinkedHashMap<>();
    private long lastSweepNanos = System.nanoTime();
    private long lastReconcileNanos = System.nanoTime();
    private boolean reconcileInFlight;

    /**
     * Connects to Redis and starts a node. The store is the caller's (it closes it after this).
     *
     * @throws IllegalStateException if Redis cannot be reached: a node without Redis would serve
     *                               rooms apart from the others
     */
    public static RedisBroker start(PostgresHistoryStore store, RedisAddress redis, BroadcastEncoder encoder,
                                    int historyOnJoin, long retainMessages, int presenceNamesUpTo, String threadPrefix,
                                    Thread.UncaughtExceptionHandler essentialThreadDied) {
        return start(store, redis, encoder, historyOnJoin, retainMessages, presenceNamesUpTo, 0, threadPrefix,
                essentialThreadDied);
    }

    /** @param presenceGraceMillis as {@link LocalBroker}'s: how long a member's entry lingers; 0 for none */
    public static RedisBroker start(PostgresHistoryStore store, RedisAddress redis, BroadcastEncoder encoder,
                                    int historyOnJoin, long retainMessages, int presenceNamesUpTo,
                                    long presenceGraceMillis, String threadPrefix,
                                    Thread.UncaughtExceptionHandler essentialThreadDied) {
        return new RedisBroker(store, redis, encoder, historyOnJoin, retainMessages, presenceNamesUpTo,
                presenceGraceMillis, threadPrefix, essentialThreadDied);
    }

    private RedisBroker(PostgresHistoryStore store, RedisAddress redis, BroadcastEncoder encoder, int historyOnJoin,
                        long retainMessages, int presenceNamesUpTo, long presenceGraceMillis, String threadPrefix,
                        Thread.UncaughtExceptionHandler essentialThreadDied) {
        super(store, encoder, historyOnJoin, retainMessages, presenceNamesUpTo, presenceGraceMillis, threadPrefix,
                essentialThreadDied);
        this.postgres = store;
        this.nodeId = UUID.randomUUID().toString().substring(0, 13);
        this.catchUpReads = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, threadPrefix + "-catch-up");
            t.setDaemon(true);
            t.setUncaughtExceptionHandler(essentialThreadDied);
            return t;
        });
        this.link = RedisLink.connect(redis, nodeId, new RedisLink.Listener() {
            @Override
            public void message(String room, byte[] payload) {
                heard(room, payload);
            }

            @Override
            public void restored() {
                offer(new Reconcile());
            }
        });
        this.presence = new RedisPresence(link, (deadNode, room, names) -> offer(new Departed(room, names)));
        startSequencer();
        log.info("node {} shares rooms over Redis at {}", nodeId, redis);
    }

    @Override
    public void announce(String room, String topic) {
        link.publish(room, RoomBatchCodec.encodeNotice(nodeId, room, topic));
    }

    @Override
    public void onAnnouncement(Announcements listener) {
        announcements = listener;
    }

    /** This node's id in Redis (presence fields, the publish envelope). */
    public String nodeId() {
        return nodeId;
    }

    /** From Redis's or the catch-up thread: dropped when the queue is full (the reconciliation refills). */
    private void offer(Command c) {
        if (running && inbox.size() < QUEUE_CAPACITY) {
            inbox.add(c);
        }
    }

    /** A payload another node published: decoded here, on Redis's thread, and handed to the sequencer. */
    private void heard(String room, byte[] payload) {
        try {
            switch (RoomBatchCodec.decode(payload, room)) {
                case RoomBatchCodec.Batch b -> offer(new Arrived(room, b.messages()));
                case RoomBatchCodec.Presence p -> offer(new Remote(room, p.joined(), p.left()));
                case RoomBatchCodec.Notice n -> {
                    Announcements listener = announcements;
                    if (listener != null) {
                        listener.heard(room, n.topic());
                    }
                }
                case RoomBatchCodec.Deletion d -> offer(new Heard(
                        new Tombstones(room, d.after(), d.upTo(), d.by(), d.at(), List.of())));
            }
        } catch (RoomBatchCodec.MalformedPayloadException e) {
            if (malformed.incrementAndGet() % 1000 == 1) {
                log.warn("dropping a malformed payload on room {}'s channel ({} so far): {}", room, malformed.get(),
                        e.getMessage());
            }
        }
    }

    /** After the sequencer and the readers: this node's members out of Redis at once, not left to the sweep. */
    @Override
    void closed() {
        catchUpReads.shutdownNow();
        presence.close();
        link.close();
    }

    @Override
    void turn(List<Command> batch, long now) {
        // Every turn, batch or not: the gaps, the reconciliation and big rooms' counts run on this clock.
        forgetIdleRooms(now);
        process(batch, now);
    }

    /** The commands only several nodes have: what Redis and PostgreSQL tell this node. */
    @Override
    void handle(Command c, FanOut.Changes changes, long now) {
        switch (c) {
            case Arrived a -> {
                Room room = rooms.get(a.room());
                if (room != null) {
                    a.messages().forEach(m -> receive(room, m, changes, now));
                }
            }
            case Filled f -> {
                Room room = rooms.get(f.room());
                if (room != null) {
                    gate(room).fillInFlight = false;
                    f.messages().forEach(m -> receive(room, m, changes, now));
                }
            }
            case Known k -> {
                reconcileInFlight = false;
                k.lastSeqs().forEach((name, last) -> {
                    Room room = rooms.get(name);
                    if (room != null && last > room.lastSeq()) {
                        gate(room).known = Math.max(gate(room).known, last);
                    }
                });
                k.deletions().forEach((name, count) -> {
                    Room room = rooms.get(name);
                    if (room != null) {
                        deletionsCounted(room, count);
                    }
                });
            }
            case Reconcile r -> lastReconcileNanos = now - TimeUnit.MILLISECONDS.toNanos(RECONCILE_MILLIS);
            case Remote r -> {
                Room room = rooms.get(r.room());
                if (room != null) {
                    room.remoteMembers(room.remoteMembers() + r.joined().size() - r.left().size());
                    r.joined().forEach(name -> changes.joined(room, name));
                    r.left().forEach(name -> changes.left(room, name));
                }
            }
            case Departed d -> {
                // This node swept a dead one: tell the others, then itself.
                link.publish(d.room(), RoomBatchCodec.encodePresence(nodeId, d.room(), List.of(), d.names()));
                Room room = rooms.get(d.room());
                if (room != null) {
                    room.remoteMembers(room.remoteMembers() - d.names().size());
                    d.names().forEach(name -> changes.left(room, name));
                }
            }
            case Heard h -> {
                Room room = rooms.get(h.tombstones().room());
                if (room != null) {
                    applyTombstones(room, h.tombstones(), changes);
                }
            }
            case Reread r -> {
                Room room = rooms.get(r.room());
                if (room != null) {
                    gate(room).rereadInFlight = false;
                    reread(room, r, changes);
                }
            }
            default -> { }
        }
    }

    /** Every turn: fill the gaps the order gate waits on, reconcile with PostgreSQL, announce presence. */
    @Override
    void afterCommands(long now) {
        fillGaps(now);
        reconcile(now);
        announce();
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
        catchUp(room, cmd.since(), changes);
        added(room, s, changes);
        int members = room.presenceCount();
        if (cmd.since() < 0) {
            List<StoredMessage> history = Replays.newestWithinBudget(room.newest(historyOnJoin));
            Replay replay = new Replay(room.lastSeq(), room.firstSeq(), history, true);
            tasks.join(loop, () -> s.complete(members, replay));
        } else {
            replays.after(room, cmd.asker(), cmd.since(), Replays.MAX_REPLAY, loop, tasks,
                    replay -> s.complete(members, replay), s::fail);
        }
    }

    /** Commits the batch's messages in PostgreSQL, acknowledges them, publishes them, and gates them here. */
    @Override
    void publish(List<Command> batch, LoopTasks tasks, FanOut.Changes changes) {
        List<Publish> publishes = new ArrayList<>();
        List<PostgresHistoryStore.Draft> drafts = new ArrayList<>();
        long now = System.currentTimeMillis();
        for (Command c : batch) {
            if (c instanceof Publish p) {
                if (room(p.room()) == null) {
                    fail(p, Failure.STORE_UNAVAILABLE, tasks);
                    continue;
                }
                publishes.add(p);
                drafts.add(new PostgresHistoryStore.Draft(p.room(), p.id(), p.user(), p.from(), p.text(), now));
            }
        }
        if (drafts.isEmpty()) {
            return;
        }
        List<PostgresHistoryStore.Sequenced> outcomes;
        long commitStart = System.nanoTime();
        try {
            outcomes = postgres.sequence(drafts);
            committed(commitStart);
        } catch (StoreException e) {
            log.error("storing {} messages failed; their senders are told to retry", drafts.size(), e);
            publishes.forEach(p -> fail(p, Failure.STORE_UNAVAILABLE, tasks));
            return;
        }
        Map<String, List<StoredMessage>> fresh = new LinkedHashMap<>();
        long nanos = System.nanoTime();
        for (int i = 0; i < outcomes.size(); i++) {
            PostgresHistoryStore.Sequenced outcome = outcomes.get(i);
            Publish p = publishes.get(i);
            StoredMessage m = outcome.message();
            if (outcome.isNew()) {
                storedCount.increment();
                fresh.computeIfAbsent(m.room(), r -> new ArrayList<>()).add(m);
                receive(rooms.get(m.room()), m, changes, nanos);
                tasks.then(p.replyOn(), () -> p.listener().stored(m));
            } else {
                answerResend(p, m, tasks);
            }
        }
        fresh.forEach((room, messages) -> {
            link.publish(room, RoomBatchCodec.encodeBatch(nodeId, messages));
            applyRetention(rooms.get(room));
        });
    }

    /** The order gate: hands the room's next messages on, holds back early ones, drops what it has. */
    private void receive(Room room, StoredMessage m, FanOut.Changes changes, long now) {
        if (m.seq() <= room.lastSeq()) {
            return;
        }
        Gate gate = gate(room);
        gate.pending.put(m.seq(), m);
        while (!gate.pending.isEmpty() && gate.pending.firstKey() == room.lastSeq() + 1) {
            StoredMessage next = gate.pending.pollFirstEntry().getValue();
            for (Tombstones t : gate.deletions) {
                if (t.covers(next.seq()) && !next.deleted()) {
                    next = next.tombstone(t.by(), t.at());
                }
            }
            room.append(next);
            changes.message(room, next);
        }
        gate.gapSince = gate.pending.isEmpty() ? 0 : gate.gapSince == 0 ? now : gate.gapSince;
        for (Iterator<Tombstones> it = gate.deletions.iterator(); it.hasNext(); ) {
            Tombstones t = it.next();
            if (t.upTo() <= room.lastSeq()) {
                it.remove();
                changes.deleted(room, t);
            }
        }
    }

    /** Tombstones stored here: announced to the other nodes, then put in this node's order like theirs. */
    @Override
    void tombstoned(Room room, Tombstones t, FanOut.Changes changes) {
        link.publish(room.name, RoomBatchCodec.encodeDeletion(nodeId, room.name, t.after(), t.upTo(), t.by(), t.at()));
        applyTombstones(room, t, changes);
    }

    /**
     * The order gate's side for deletions. A deletion can reach this node before a message it deletes
     * (that message was committed through a third node, and its batch is still on its way, or lost): the
     * text of whatever is in memory goes at once, and the deletion waits in the gate, tombstoning each
     * message it covers as the gate hands it on, and goes out to the members once the room has reached
     * its last seq. So a member never gets the deletion before the message, nor the message's text after it.
     */
    private void applyTombstones(Room room, Tombstones t, FanOut.Changes changes) {
        room.tombstone(t);
        if (t.upTo() <= room.lastSeq()) {
            changes.deleted(room, t);
        } else {
            Gate gate = gate(room);
            gate.deletions.add(t);
            gate.known = Math.max(gate.known, t.upTo());
        }
    }

    /**
     * PostgreSQL counted {@code count} deletions in the room. A count higher than the last one this node
     * saw means a deletion happened since, whose notice this node may have lost: the room's messages in
     * memory are read again ({@link #reread}). The first count a node sees of a room is read against as
     * well (a deletion may have fallen between loading the room and that count). One read of at most the
     * room's memory per deletion per node, within a reconciliation: deletions are rare.
     */
    private void deletionsCounted(Room room, long count) {
        Gate gate = gate(room);
        if (count <= gate.deletionsSeen || gate.rereadInFlight) {
            return;
        }
        gate.rereadInFlight = true;
        String name = room.name;
        long from = room.lastSeq() - recentCapacity;
        long upTo = room.lastSeq();
        catchUpReads.execute(() -> {
            List<StoredMessage> read;
            try {
                read = store.after(name, Math.max(0, from), upTo, recentCapacity);
            } catch (StoreException ex) {
                log.warn("reading room {} again after a deletion failed: {}", name, ex.getMessage());
                read = null;
            }
            offer(new Reread(name, count, read));
        });
    }

    /** The room's messages as PostgreSQL has them now: the tombstones this node had not heard of are applied. */
    private void reread(Room room, Reread r, FanOut.Changes changes) {
        if (r.messages() == null) {
            return;
        }
        gate(room).deletionsSeen = Math.max(gate(room).deletionsSeen, r.count());
        Map<Long, StoredMessage> inMemory = new HashMap<>();
        room.newest(recentCapacity).forEach(m -> inMemory.put(m.seq(), m));
        for (StoredMessage m : r.messages()) {
            StoredMessage mine = inMemory.get(m.seq());
            if (m.deleted() && mine != null && !mine.deleted()) {
                applyTombstones(room, new Tombstones(room.name, m.seq() - 1, m.seq(), m.deletedBy(), m.deletedAt(),
                        List.of(m.seq())), changes);
            }
        }
    }

    /**
     * A client that was on another node may have seen more of a room than this node has yet (its
     * messages are still on their way through Redis, or this node has just started). Its {@code since}
     * proves those messages are committed, so they are read from PostgreSQL now, on the sequencer,
     * before the client's join or poll is answered: otherwise the reply would end before {@code since}
     * and the live stream would hand the client again what it has. The read goes through the order gate,
     * so the room's other members get the same messages, once.
     */
    @Override
    void catchUp(Room room, long since, FanOut.Changes changes) {
        long now = System.nanoTime();
        while (room.lastSeq() < since) {
            List<StoredMessage> read;
            try {
                read = store.after(room.name, room.lastSeq(), Long.MAX_VALUE, FILL_LIMIT);
            } catch (StoreException e) {
                log.warn("catching room {} up to {} for a client failed: {}", room.name, since, e.getMessage());
                return;
            }
            long before = room.lastSeq();
            read.forEach(m -> receive(room, m, changes, now));
            if (room.lastSeq() == before) {
                // PostgreSQL has nothing more: the client's since is past the room (its history was reset).
                return;
            }
        }
    }

    /** Reads from PostgreSQL what a room has been missing too long: a gap, or messages nobody published. */
    private void fillGaps(long now) {
        for (Map.Entry<Room, Gate> e : gates.entrySet()) {
            Room room = e.getKey();
            Gate gate = e.getValue();
            if (gate.fillInFlight) {
                continue;
            }
            long upTo;
            if (!gate.pending.isEmpty()
                    && now - gate.gapSince > TimeUnit.MILLISECONDS.toNanos(GAP_WAIT_MILLIS)) {
                upTo = gate.pending.firstKey() - 1;
            } else if (gate.pending.isEmpty() && gate.known > room.lastSeq()) {
                upTo = gate.known;
            } else {
                continue;
            }
            gate.fillInFlight = true;
            String name = room.name;
            long since = room.lastSeq();
            catchUpReads.execute(() -> {
                List<StoredMessage> read;
                try {
                    read = store.after(name, since, upTo, FILL_LIMIT);
                } catch (StoreException ex) {
                    log.warn("catching room {} up from {} failed: {}", name, since, ex.getMessage());
                    read = List.of();
                }
                offer(new Filled(name, read));
            });
        }
    }

    /** Every {@value #RECONCILE_MILLIS} ms: asks PostgreSQL how far each room this node serves has got. */
    private void reconcile(long now) {
        if (reconcileInFlight || now - lastReconcileNanos < TimeUnit.MILLISECONDS.toNanos(RECONCILE_MILLIS)) {
            return;
        }
        lastReconcileNanos = now;
        Set<String> served = new HashSet<>();
        rooms.forEach((name, room) -> {
            if (room.memberCount() > 0 || !room.waiters().isEmpty()) {
                served.add(name);
            }
        });
        if (served.isEmpty()) {
            return;
        }
        reconcileInFlight = true;
        catchUpReads.execute(() -> {
            Map<String, Long> lastSeqs;
            Map<String, Long> deletions;
            try {
                lastSeqs = postgres.lastSeqs(served);
                deletions = postgres.deletions(served);
            } catch (StoreException e) {
                log.warn("reconciling {} rooms with PostgreSQL failed: {}", served.size(), e.getMessage());
                lastSeqs = Map.of();
                deletions = Map.of();
            }
            offer(new Known(lastSeqs, deletions));
        });
    }

    /** This node's entry appeared: counted in Redis, and announced to the other nodes after the batch. */
    @Override
    void entryJoined(Room room, String name, FanOut.Changes changes) {
        super.entryJoined(room, name, changes);
        joinedHere.computeIfAbsent(room, x -> new ArrayList<>()).add(name);
        presence.join(room.name, name);
    }

    @Override
    void entryLeft(Room room, String name, FanOut.Changes changes) {
        super.entryLeft(room, name, changes);
        leftHere.computeIfAbsent(room, x -> new ArrayList<>()).add(name);
        presence.leave(room.name, name);
    }

    /** Tells the other nodes who joined and left here in this batch, one payload per room. */
    private void announce() {
        Set<Room> changed = new HashSet<>(joinedHere.keySet());
        changed.addAll(leftHere.keySet());
        for (Room room : changed) {
            link.publish(room.name, RoomBatchCodec.encodePresence(nodeId, room.name,
                    joinedHere.getOrDefault(room, List.of()), leftHere.getOrDefault(room, List.of())));
        }
        joinedHere.clear();
        leftHere.clear();
    }

    /** The cluster's counts of rooms this node does not serve: one GET each, pipelined; 0 if Redis fails. */
    @Override
    CompletionStage<Map<String, Integer>> membersElsewhere(List<String> names) {
        Map<String, Integer> counts = new ConcurrentHashMap<>();
        CompletableFuture<?>[] each = names.stream()
                .map(name -> presence.count(name).toCompletableFuture()
                        .thenAccept(n -> counts.put(name, (int) Math.min(n, Integer.MAX_VALUE)))
                        .exceptionally(e -> null))
                .toArray(CompletableFuture[]::new);
        return CompletableFuture.allOf(each).thenApply(v -> counts);
    }

    private void forgetIdleRooms(long now) {
        if (now - lastSweepNanos < TimeUnit.SECONDS.toNanos(1)) {
            return;
        }
        lastSweepNanos = now;
        rooms.values().removeIf(room -> {
            if (room.idleSince(now - ROOM_IDLE_NANOS)) {
                gates.remove(room);
                link.unsubscribe(room.name);
                return true;
            }
            return false;
        });
    }

    /**
     * The room as this node serves it, loaded on first use: subscribed to its channel first, then its
     * tail read, so that no message falls between the two. Null if PostgreSQL failed.
     */
    @Override
    Room room(String name) {
        Room room = rooms.get(name);
        if (room == null) {
            try {
                link.subscribe(name).toCompletableFuture().get(2, TimeUnit.SECONDS);
            } catch (Exception e) {
                // The link holds the room and subscribes when Redis is back; the reconciliation covers
                // whatever is published meanwhile.
                log.warn("subscribing to room {} on Redis failed for now: {}", name, e.toString());
            }
            long everywhere = 0;
            try {
                everywhere = presence.count(name).toCompletableFuture().get(1, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.debug("no member count for room {} from Redis", name, e);
            }
            try {
                HistoryStore.RoomTail tail = store.loadTail(name, recentCapacity);
                room = new Room(name, tail.lastSeq(), tail.firstSeq(), tail.recent(), recentCapacity);
            } catch (StoreException e) {
                log.error("loading room {} failed", name, e);
                link.unsubscribe(name);
                return null;
            }
            room.remoteMembers((int) everywhere);
            rooms.put(name, room);
        }
        room.used(System.nanoTime());
        return room;
    }

    private Gate gate(Room room) {
        return gates.computeIfAbsent(room, r -> new Gate());
    }

    /** A room's order gate: messages that came early, and what is known to be missing. Sequencer only. */
    private static final class Gate {
        final TreeMap<Long, StoredMessage> pending = new TreeMap<>();
        /** When the oldest open gap opened (System.nanoTime), 0 when none is open. */
        long gapSince;
        /** The room's last seq as PostgreSQL last said, when above what this node has. */
        long known;
        boolean fillInFlight;
        /** Deletions that reached past the room's last seq here: applied as the gate hands messages on. */
        final List<Tombstones> deletions = new ArrayList<>();
        /** The room's deletion count as PostgreSQL last said, once read against; -1 before. */
        long deletionsSeen = -1;
        boolean rereadInFlight;
    }

    /** Messages another node committed, as Redis brought them. */
    private record Arrived(String room, List<StoredMessage> messages) implements Command { }

    /** Messages read from PostgreSQL to close a gap. */
    private record Filled(String room, List<StoredMessage> messages) implements Command { }

    /** Rooms' last seqs and deletion counts as PostgreSQL has them. */
    private record Known(Map<String, Long> lastSeqs, Map<String, Long> deletions) implements Command { }

    /** A deletion another node stored, as Redis brought it. */
    private record Heard(Tombstones tombstones) implements Command { }

    /** A room's newest messages read again after its deletion count rose; null messages if the read failed. */
    private record Reread(String room, long count, List<StoredMessage> messages) implements Command { }

    /** Redis is back: reconcile now rather than at the next tick. */
    private record Reconcile() implements Command { }

    /** Members who joined or left on another node. */
    private record Remote(String room, List<String> joined, List<String> left) implements Command { }

    /** Members of a dead node, as this node's sweep found them. */
    private record Departed(String room, List<String> names) implements Command { }
}
