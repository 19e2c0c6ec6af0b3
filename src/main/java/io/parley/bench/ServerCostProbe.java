package io.parley.bench;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads the server's counters at the two edges of a run's measured window, together with the
 * deliveries the run has counted at the same moments, and turns the differences into a
 * {@link ServerCost}.
 *
 * <p>Each edge reads the delivery count just before and just after fetching {@code /metrics} and
 * takes the middle, so both sides of the division cover the same stretch of time to within half a
 * fetch. Before the run starts, {@link #calibrate} reads the counters twice back to back to learn
 * what one fetch adds to them, and to find out early whether there is a {@code /metrics} at all.
 *
 * <p>Threads: {@link #calibrate} and {@link #result} run on the run's thread; the edge reads run on
 * this probe's own scheduler thread, so that a slow fetch delays neither sends nor progress lines.
 */
final class ServerCostProbe implements AutoCloseable {

    private static final long RESULT_TIMEOUT_SECONDS = 15;

    private record Reading(long delivered, Map<String, Double> counters) {
    }

    private final MetricsReader metrics;
    private final DeliveryTally tally;
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("parley-bench-metrics").factory());
    private String unavailable;
    private Map<String, Double> probeOverhead = Map.of();
    private CompletableFuture<Reading> start;
    private CompletableFuture<Reading> end;

    /** A probe of {@code metrics}; {@code null} means the run does not read the server's counters. */
    ServerCostProbe(MetricsReader metrics, DeliveryTally tally) {
        this.metrics = metrics;
        this.tally = tally;
        this.unavailable = metrics == null ? "not read" : null;
    }

    /** Reads the counters twice; if they cannot be read, the run goes on and the cost is "n/a". */
    void calibrate() throws InterruptedException {
        if (unavailable != null) {
            return;
        }
        try {
            probeOverhead = ServerCost.overheadOfOneRead(metrics.read(), metrics.read());
        } catch (IOException e) {
            unavailable = e.getMessage();
        }
    }

    /** Reads the counters at {@code startNanos} and {@code endNanos} on the tally's clock. */
    void scheduleWindow(long startNanos, long endNanos) {
        if (unavailable == null) {
            start = readAt(startNanos);
            end = readAt(endNanos);
        }
    }

    /** The window's cost, once both edges have been read. */
    ServerCost result() throws InterruptedException {
        if (unavailable != null) {
            return ServerCost.unavailable(unavailable);
        }
        if (start == null) {
            return ServerCost.unavailable("no measured window");
        }
        try {
            Reading before = start.get(RESULT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            Reading after = end.get(RESULT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return ServerCost.between(before.counters(), after.counters(), after.delivered() - before.delivered(),
                    probeOverhead);
        } catch (ExecutionException e) {
            return ServerCost.unavailable(e.getCause().getMessage());
        } catch (TimeoutException | CancellationException e) {
            return ServerCost.unavailable("/metrics not read within " + RESULT_TIMEOUT_SECONDS + " s");
        }
    }

    private CompletableFuture<Reading> readAt(long nanos) {
        CompletableFuture<Reading> reading = new CompletableFuture<>();
        scheduler.schedule(() -> {
            try {
                long deliveredBefore = tally.deliveredCount();
                Map<String, Double> counters = metrics.read();
                long deliveredAfter = tally.deliveredCount();
                reading.complete(new Reading((deliveredBefore + deliveredAfter) / 2, counters));
            } catch (IOException | RuntimeException e) {
                reading.completeExceptionally(e);
            } catch (InterruptedException e) {
                reading.cancel(false);
            }
        }, Math.max(0, nanos - tally.now()), TimeUnit.NANOSECONDS);
        return reading;
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
