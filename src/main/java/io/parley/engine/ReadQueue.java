package io.parley.engine;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * History reads waiting for the engine's reader threads: one queue per {@link Asker} (a connection),
 * drained round robin, with a bound per asker and one on all of them together.
 *
 * <p>Why not one queue: a connection that asks for thousands of reads would put everyone else's behind
 * them, and those reads would still run after it hung up (seen: 43,557 reads queued by 64 clients in
 * 25 s; other users' reads failed for minutes). Here a reader thread takes one read from the asker
 * whose turn it is, then moves on to the next asker; so a read waits for at most one read of each
 * other asker with reads queued, however many reads those have. {@link Asker#close()} drops an
 * asker's queued reads before any of them touches the store; one already running finishes, and its
 * answer goes to a closed connection, which drops it.
 *
 * <p>Mechanism: every accepted read adds one "take a turn" task to the reader executor. A turn takes
 * the next asker's first read, if any is left (a closed asker's reads are gone, so its turns find
 * nothing or run someone else's read). So there are never fewer turns than queued reads, and the
 * bound counts turns: a closed asker's dropped reads keep their place in the bound only until their
 * turns pass, which takes microseconds. The executor (the engine's reader pool) is not touched here
 * beyond {@code execute}.
 *
 * <p>Threads: {@link #submit} and {@link Asker#close()} run on event loops and the sequencer; turns run
 * on the reader threads. The state is guarded by this object's monitor, held only to move a few
 * references, never while a read runs.
 */
public final class ReadQueue {

    private final Executor readers;
    private final int capacity;
    private final int perAsker;
    /** Askers with at least one read queued, in the order of their turns. */
    private final ArrayDeque<Asker> turns = new ArrayDeque<>();
    /** Turns handed to the executor and not yet taken: at least the number of reads queued. */
    private int pendingTurns;
    private final Runnable takeTurn = this::takeTurn;

    /**
     * @param capacity reads all askers together may have waiting; more are refused {@code OVERLOADED}
     * @param perAsker reads one asker may have waiting; more of its reads are refused {@code OVERLOADED}
     */
    ReadQueue(Executor readers, int capacity, int perAsker) {
        this.readers = readers;
        this.capacity = capacity;
        this.perAsker = perAsker;
    }

    /**
     * Queues {@code read} for {@code asker}. A read for a closed asker is dropped: nobody is there to
     * answer.
     *
     * @throws Refused {@code OVERLOADED} when the queue or the asker's share of it is full,
     *                             {@code SHUTTING_DOWN} when the readers have stopped
     */
    void submit(Asker asker, Runnable read) {
        synchronized (this) {
            if (asker.closed) {
                return;
            }
            if (pendingTurns >= capacity || asker.reads.size() >= perAsker) {
                throw new Refused(Failure.OVERLOADED);
            }
            asker.reads.add(read);
            if (asker.reads.size() == 1) {
                turns.add(asker);
            }
            pendingTurns++;
        }
        try {
            readers.execute(takeTurn);
        } catch (RejectedExecutionException e) {
            synchronized (this) {
                pendingTurns--;
                if (asker.reads.removeLastOccurrence(read) && asker.reads.isEmpty()) {
                    turns.remove(asker);
                }
            }
            throw new Refused(Failure.SHUTTING_DOWN);
        }
    }

    /** A new asker, for one connection. */
    Asker asker() {
        return new Asker();
    }

    /** Reads waiting, closed askers' dropped ones not counted; for tests. */
    synchronized int queued() {
        int n = 0;
        for (Asker a : turns) {
            n += a.reads.size();
        }
        return n;
    }

    private void takeTurn() {
        Runnable read;
        synchronized (this) {
            pendingTurns--;
            Asker next = turns.poll();
            if (next == null) {
                return;
            }
            read = next.reads.poll();
            if (!next.reads.isEmpty()) {
                turns.add(next);
            }
        }
        read.run();
    }

    /** Who asks for reads: one per connection. Its reads are dropped when it closes. */
    public final class Asker {
        private final ArrayDeque<Runnable> reads = new ArrayDeque<>();
        private boolean closed;

        Asker() {
        }

        /** The connection is gone: its queued reads never run. Any thread; idempotent. */
        public void close() {
            synchronized (ReadQueue.this) {
                closed = true;
                if (!reads.isEmpty()) {
                    reads.clear();
                    turns.remove(this);
                }
            }
        }
    }
}
