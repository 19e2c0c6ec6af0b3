package io.parley.engine;

import io.parley.store.HistoryStore;
import io.parley.store.StoreException;
import io.parley.store.StoredMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Replays: the stored messages a join with {@code since}, a poll or a history request is answered
 * with. From a room's recent messages in memory when they cover the request, else from the store on
 * two reader threads, in turns per connection ({@link ReadQueue}): a connection that asks for many
 * cannot hold others' reads back, and its queued reads are dropped when it closes.
 *
 * <p>Each reply is bounded twice: at most {@link #MAX_REPLAY} messages, and at most
 * {@link #TEXT_BUDGET} characters of text; the client pages for the rest.
 *
 * <p>Threads: {@link #after} is called by the sequencer, which owns the {@link Room}; it reads memory
 * at once and fixes a disk read's upper bound then, so that the reply ends exactly where the room
 * stood at that point in its order. {@link #history} may be called from any thread. Disk reads run on
 * the reader threads; their answers are posted to the asker's executor.
 */
final class Replays {

    private static final Logger log = LoggerFactory.getLogger(Replays.class);

    /** Messages one join or history reply may carry. */
    static final int MAX_REPLAY = 1000;
    /**
     * Characters of text one join or history reply may carry: about 1 MiB of JSON at worst, so that a
     * reply alone never fills a connection's outbound buffer and gets a healthy client closed as slow.
     */
    static final int TEXT_BUDGET = 256 * 1024;
    /**
     * Disk reads (history, and joins and polls that memory cannot answer) all connections together may
     * have waiting for the readers. A queued read holds a few small objects (about 200 bytes), so the
     * bound is about memory only at its extreme; fairness between connections comes from
     * {@link ReadQueue}'s turns, not from this number. Well above what the per-connection limits let
     * the 64 connections of a hostile test queue (4 history reads each, plus a join per room).
     */
    static final int QUEUE_CAPACITY = 8192;
    /**
     * Disk reads one connection may have waiting: a client re-joining each of its rooms (at most 100 by
     * default) with {@code since} after a long absence, plus a few history reads.
     */
    static final int READS_PER_ASKER = 128;

    private final HistoryStore store;
    private final ExecutorService readers;
    private final ReadQueue reads;
    private final Thread.UncaughtExceptionHandler fatal;

    Replays(HistoryStore store, String threadPrefix, Thread.UncaughtExceptionHandler fatal) {
        this.store = store;
        this.fatal = fatal;
        AtomicInteger n = new AtomicInteger();
        this.readers = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, threadPrefix + "-history-reader-" + n.incrementAndGet());
            t.setDaemon(true);
            t.setUncaughtExceptionHandler(fatal);
            return t;
        });
        this.reads = new ReadQueue(readers, QUEUE_CAPACITY, READS_PER_ASKER);
    }

    ReadQueue.Asker asker() {
        return reads.asker();
    }

    /** See {@link Broker#history}. */
    CompletableFuture<List<StoredMessage>> history(ReadQueue.Asker asker, String room, long before, long since,
                                                   int limit) {
        return inTurn(asker, () -> read(room, before, since, limit));
    }

    /** The store's part of a rooms list ({@link Broker#rooms}), in {@code asker}'s turn. */
    CompletableFuture<List<HistoryStore.RoomActivity>> rooms(ReadQueue.Asker asker, int limit) {
        return inTurn(asker, () -> store.rooms(limit));
    }

    /** Runs a read on a reader thread in {@code asker}'s turn. */
    private <T> CompletableFuture<T> inTurn(ReadQueue.Asker asker, Supplier<T> read) {
        CompletableFuture<T> result = new CompletableFuture<>();
        reads.submit(asker, () -> {
            // A StoreException fails the future; an Error (out of memory) goes on to the reader
            // thread's handler, which ends the process.
            try {
                result.complete(read.get());
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
        return result;
    }

    private List<StoredMessage> read(String room, long before, long since, int limit) {
        if (since >= 0) {
            return oldestWithinBudget(store.after(room, since, Long.MAX_VALUE, limit));
        }
        if (before >= 0) {
            return newestWithinBudget(store.before(room, before, limit));
        }
        return newestWithinBudget(store.latest(room, limit));
    }

    /**
     * Sends {@code room}'s messages after {@code since} to {@code answer} on {@code executor}: from
     * memory in this batch's task when memory has them all, else read on the reader pool in
     * {@code asker}'s turn. A full read queue fails it with {@link Failure#OVERLOADED}. Sequencer thread.
     */
    void after(Room room, ReadQueue.Asker asker, long since, int limit, Executor executor, LoopTasks tasks,
               Consumer<Replay> answer, Consumer<Failure> failure) {
        long upTo = room.lastSeq();
        long first = room.firstSeq();
        if (room.inMemoryAfter(since)) {
            List<StoredMessage> all = room.after(since);
            List<StoredMessage> some = oldestWithinBudget(all.size() > limit ? all.subList(0, limit) : all);
            Replay replay = new Replay(upTo, first, List.copyOf(some), some.size() == all.size());
            tasks.join(executor, () -> answer.accept(replay));
            return;
        }
        String name = room.name;
        try {
            reads.submit(asker, () -> {
                try {
                    List<StoredMessage> history = oldestWithinBudget(store.after(name, since, upTo, limit));
                    // Retention may have deleted more since the sequencer looked: trust what was read.
                    long firstNow = first;
                    if (!history.isEmpty() && history.getFirst().seq() > since + 1) {
                        firstNow = Math.max(first, history.getFirst().seq());
                    }
                    long stored = upTo - Math.max(since, firstNow - 1);
                    Replay replay = new Replay(upTo, firstNow, history, stored <= history.size());
                    LoopTasks.post(executor, () -> answer.accept(replay), fatal);
                } catch (StoreException e) {
                    log.error("reading history of room {} failed", name, e);
                    LoopTasks.post(executor, () -> failure.accept(Failure.STORE_UNAVAILABLE), fatal);
                }
            });
        } catch (Refused e) {
            tasks.then(executor, () -> failure.accept(e.failure()));
        }
    }

    /** Stops the readers, letting a read that has started finish (up to 5 s). */
    void close() {
        readers.shutdown();
        try {
            readers.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The oldest messages, in order, whose text fits {@link #TEXT_BUDGET}; at least one. */
    static List<StoredMessage> oldestWithinBudget(List<StoredMessage> messages) {
        long total = 0;
        for (int i = 0; i < messages.size(); i++) {
            total += messages.get(i).text().length();
            if (total > TEXT_BUDGET && i > 0) {
                return messages.subList(0, i);
            }
        }
        return messages;
    }

    /** The newest messages, in order, whose text fits {@link #TEXT_BUDGET}; at least one. */
    static List<StoredMessage> newestWithinBudget(List<StoredMessage> messages) {
        long total = 0;
        for (int i = messages.size() - 1; i >= 0; i--) {
            total += messages.get(i).text().length();
            if (total > TEXT_BUDGET && i < messages.size() - 1) {
                return messages.subList(i + 1, messages.size());
            }
        }
        return messages;
    }
}
