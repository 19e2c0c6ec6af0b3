package io.parley.engine;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Everything one batch of the sequencer does on the event loops, as one task per loop: the joins it
 * answers (history first), the frames it delivers, then the acks and refusals it tells.
 *
 * <p>Why one task per loop: a batch may carry hundreds of messages for thousands of members; posting
 * each delivery on its own would cost a task, a wake-up and a flush per message per member. One task
 * per loop hands each member all its frames and flushes it once, so one socket write carries the batch.
 *
 * <p>Threads: filled by the sequencer thread, then {@link #post}ed; each task runs on its loop.
 */
final class LoopTasks {

    private static final Logger log = LoggerFactory.getLogger(LoopTasks.class);

    private final Map<Executor, LoopWork> work = new HashMap<>();
    private final Thread.UncaughtExceptionHandler fatal;

    /** @param fatal told when a task runs out of memory: the event loop would log it and run on */
    LoopTasks(Thread.UncaughtExceptionHandler fatal) {
        this.fatal = fatal;
    }

    /** Runs first in {@code executor}'s task: a join's answer, so its history goes before live frames. */
    void join(Executor executor, Runnable answer) {
        on(executor).joins.add(answer);
    }

    /** Hands {@code frames} to each of {@code members} (all on {@code executor}), then flushes each. */
    void deliver(Executor executor, Subscription[] members, Frame[] frames) {
        on(executor).rooms.add(new Delivery(members, frames));
    }

    /** Runs last in {@code executor}'s task: an ack or a refusal, after the deliveries it may follow. */
    void then(Executor executor, Runnable tell) {
        on(executor).then.add(tell);
    }

    /** Posts one task to each loop that has work. */
    void post() {
        work.forEach((executor, task) -> post(executor, task, fatal));
    }

    /** Runs {@code task} on {@code executor}, dropping it if the executor has shut down (the server is stopping). */
    static void post(Executor executor, Runnable task, Thread.UncaughtExceptionHandler fatal) {
        try {
            executor.execute(() -> {
                try {
                    task.run();
                } catch (OutOfMemoryError e) {
                    // The executor (an event loop) would log it and run on, out of memory.
                    fatal.uncaughtException(Thread.currentThread(), e);
                    throw e;
                }
            });
        } catch (RejectedExecutionException e) {
            // The connection's event loop has shut down: the server is stopping and the client is gone.
            log.debug("event loop gone, dropping a delivery", e);
        }
    }

    private LoopWork on(Executor executor) {
        return work.computeIfAbsent(executor, e -> new LoopWork());
    }

    /**
     * One room's frames of a batch for its members on one loop. A room's messages in a batch come in seq
     * order, presence (seq 0) after them.
     */
    private record Delivery(Subscription[] members, Frame[] frames, byte[][] payloads, long firstSeq, long lastSeq) {
        Delivery(Subscription[] members, Frame[] frames) {
            this(members, frames, payloads(frames), firstSeq(frames), lastSeq(frames));
        }

        private static byte[][] payloads(Frame[] frames) {
            byte[][] payloads = new byte[frames.length][];
            for (int i = 0; i < frames.length; i++) {
                payloads[i] = frames[i].bytes();
            }
            return payloads;
        }

        private static long firstSeq(Frame[] frames) {
            for (Frame f : frames) {
                if (f.seq() != 0) {
                    return f.seq();
                }
            }
            return 0;
        }

        private static long lastSeq(Frame[] frames) {
            long last = 0;
            for (Frame f : frames) {
                last = Math.max(last, f.seq());
            }
            return last;
        }

        /** Hands the frames to every member, then flushes each. */
        void run() {
            if (frames.length == 1) {
                offerOneByOne(members);
            } else {
                // Members that take the whole batch get it as one write (one pipeline pass, one promise,
                // one outbound entry, however many messages); the rest (a join still reading its
                // history, a member that saw some of it already) frame by frame, as before.
                List<Subscription> rest = null;
                for (Subscription s : members) {
                    if (!s.offerAll(payloads, firstSeq, lastSeq)) {
                        if (rest == null) {
                            rest = new ArrayList<>();
                        }
                        rest.add(s);
                    }
                }
                if (rest != null) {
                    offerOneByOne(rest.toArray(Subscription[]::new));
                }
            }
            for (Subscription s : members) {
                s.subscriber.flush();
            }
        }

        /**
         * Frame by frame, so that a subscriber's transport sees one broadcast go to everyone on this
         * loop before the next: it can then frame each once and share it.
         */
        private void offerOneByOne(Subscription[] to) {
            for (Frame f : frames) {
                for (Subscription s : to) {
                    s.offer(f);
                }
            }
        }
    }

    private static final class LoopWork implements Runnable {
        final List<Runnable> joins = new ArrayList<>();
        final List<Delivery> rooms = new ArrayList<>();
        final List<Runnable> then = new ArrayList<>();

        @Override
        public void run() {
            joins.forEach(Runnable::run);
            rooms.forEach(Delivery::run);
            then.forEach(Runnable::run);
        }
    }
}
