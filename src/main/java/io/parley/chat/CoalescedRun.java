package io.parley.chat;

import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A re-read that many requests share: at most one run waits on the worker, and a request while it
 * waits is served by it. The waiting run is marked started just before it does its work, so a request
 * after that queues exactly one more: whatever was written before a request is always read by a run
 * that starts after it. However many requests come (notices from other nodes, a timer, a flood), the
 * worker holds one run waiting at most. {@link Sanctions} and {@link RoomAccess} re-read with it.
 *
 * <p>Threads: {@link #request} from any thread, never blocking; the work runs on the worker and must
 * not throw.
 */
final class CoalescedRun {

    private final Executor worker;
    private final Runnable work;
    private final AtomicBoolean waiting = new AtomicBoolean();

    CoalescedRun(Executor worker, Runnable work) {
        this.worker = worker;
        this.work = work;
    }

    /** Asks for a run; a run that has not started yet serves this request too. */
    void request() {
        if (!waiting.compareAndSet(false, true)) {
            return;
        }
        try {
            worker.execute(() -> {
                // Before the work: a request from now on queues another, which runs after this one.
                waiting.set(false);
                work.run();
            });
        } catch (RejectedExecutionException e) {
            // Closed: nothing is read any more.
        }
    }

    /** Whether a run waits, not started yet: whatever it reads is read after now. */
    boolean waiting() {
        return waiting.get();
    }
}
