package io.parley.bench;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * Fires numbered events 0, 1, 2, ... at a steady rate until a limit: the benchmark's messages, and
 * its connection attempts.
 *
 * <p>A scheduled tick (every 1/rate seconds, kept between 1 and 10 ms) fires however many events are
 * due by the clock since the start, so a tick that runs late catches up instead of lowering the
 * rate, and nothing spins between ticks. Events run on the scheduler's thread, in order; they should
 * only queue work.
 */
final class RatePacer {

    private static final long MIN_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long MAX_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private final double perNano;
    private final long limit;
    private final LongConsumer event;
    private final CompletableFuture<Long> done = new CompletableFuture<>();
    private final long start = System.nanoTime();
    private long fired;
    private ScheduledFuture<?> ticks;

    private RatePacer(double perSecond, long limit, LongConsumer event) {
        this.perNano = perSecond / 1e9;
        this.limit = limit;
        this.event = event;
    }

    /**
     * Starts firing {@code event} {@code perSecond} times a second on {@code scheduler}, the first at
     * once, until {@code limit} events have fired.
     */
    static RatePacer start(ScheduledExecutorService scheduler, double perSecond, long limit, LongConsumer event) {
        RatePacer pacer = new RatePacer(perSecond, limit, event);
        long tick = Math.clamp((long) (1e9 / perSecond), MIN_TICK_NANOS, MAX_TICK_NANOS);
        // The first tick runs at once, possibly before schedule returns: it waits here for ticks.
        synchronized (pacer) {
            pacer.ticks = scheduler.scheduleAtFixedRate(pacer::tick, 0, tick, TimeUnit.NANOSECONDS);
        }
        return pacer;
    }

    /** Completes with the number of events fired once the limit is reached, or with what an event threw. */
    CompletableFuture<Long> done() {
        return done;
    }

    private synchronized void tick() {
        if (done.isDone()) {
            return;
        }
        long due = Math.min(limit, (long) ((System.nanoTime() - start) * perNano) + 1);
        try {
            while (fired < due) {
                event.accept(fired++);
            }
        } catch (RuntimeException e) {
            ticks.cancel(false);
            done.completeExceptionally(e);
            return;
        }
        if (fired >= limit) {
            ticks.cancel(false);
            done.complete(fired);
        }
    }
}
