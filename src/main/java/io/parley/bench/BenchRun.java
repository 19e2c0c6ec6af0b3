package io.parley.bench;

import com.sun.management.OperatingSystemMXBean;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;

/**
 * One benchmark run, whatever the transport: the workload and its measurement.
 *
 * <ol>
 *   <li>The server's counters are read twice, to learn what one read costs (see {@link ServerCostProbe}).</li>
 *   <li>Subscribers connect, {@code connectRate} a second so that thousands do not arrive at once,
 *       and the run waits until each has joined or failed.</li>
 *   <li>Publishers connect the same way; they are room members too.</li>
 *   <li>Publishers take turns sending, {@code rate} messages a second in total, for the warm-up and
 *       then the measured window. Each text carries its send time (see {@link Payload}). The server's
 *       counters are read again as the window opens and as it closes.</li>
 *   <li>The run waits up to {@code drain} for deliveries and acks still in flight, then everybody
 *       leaves and the {@link BenchReport} is built from the {@link DeliveryTally}.</li>
 * </ol>
 *
 * <p>Threads: the caller's thread runs the phases and waits between them. One pacer thread fires
 * connection attempts and sends (which only queue); one ticker thread prints a progress line a
 * second to the progress stream and is the only reader of interval latencies. The probe reads the
 * server's counters on a thread of its own. Transports report deliveries on their own threads straight
 * into the tally.
 */
public final class BenchRun {

    private static final long LEAVE_TIMEOUT_SECONDS = 10;
    private static final int PROBLEMS_KEPT = 5;

    private final BenchParameters parameters;
    private final BenchTransport transport;
    private final ServerCostProbe probe;
    private final PrintWriter progress;
    private final String runId = "r" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt(), 6);
    private final DeliveryTally tally;
    private final ScheduledExecutorService pacer = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("parley-bench-pacer").factory());
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("parley-bench-progress").factory());
    private final AtomicInteger joining = new AtomicInteger();
    private final AtomicInteger joined = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    /** Why connections failed, the first few; guarded by itself. */
    private final List<String> problems = new ArrayList<>();

    private volatile String phase = "connecting";
    private volatile long sendStart = -1;
    /** Process CPU nanoseconds and deliveries at the window's edges; written by the ticker thread. */
    private volatile long cpuAtStart = -1;
    private volatile long cpuAtEnd = -1;
    private volatile long deliveredAtStart;
    private volatile long deliveredAtEnd;
    /** Acks at the window's edges: how many messages a second the server stored and confirmed. */
    private volatile long ackedAtStart;
    private volatile long ackedAtEnd;
    /** Only the ticker thread touches this. */
    private long deliveredAtLastTick;

    private BenchRun(BenchParameters parameters, BenchTransport transport, MetricsReader metrics,
                     PrintWriter progress) {
        this.parameters = parameters;
        this.transport = transport;
        this.progress = progress;
        this.tally = new DeliveryTally(new Payload(runId, parameters.size()));
        this.probe = new ServerCostProbe(metrics, tally);
    }

    /**
     * Runs the benchmark to the end and reports; progress goes to {@code progress} once a second.
     * {@code metrics} is the server's {@code /metrics}, read for the report's server cost; with
     * {@code null}, or when it cannot be read, the cost is reported as not available.
     */
    public static BenchReport run(BenchParameters parameters, BenchTransport transport, MetricsReader metrics,
                                  PrintWriter progress) throws InterruptedException {
        BenchRun run = new BenchRun(parameters, transport, metrics, progress);
        try {
            return run.execute();
        } finally {
            run.pacer.shutdownNow();
            run.ticker.shutdownNow();
            run.probe.close();
        }
    }

    private BenchReport execute() throws InterruptedException {
        probe.calibrate();
        ScheduledFuture<?> ticks = ticker.scheduleAtFixedRate(this::printProgress, 1, 1, TimeUnit.SECONDS);
        List<BenchMember> subscribers = joinAll("sub", parameters.subscribers());
        List<BenchMember> publishers = joinAll("pub", parameters.publishers());
        if (!publishers.isEmpty()) {
            send(publishers);
            drain(subscribers.size() + publishers.size());
        }
        ticks.cancel(false);
        // On the ticker thread, after any tick still running: it is the one reader of the recorder.
        await(CompletableFuture.runAsync(tally::takeInterval, ticker));
        List<BenchMember> everybody = new ArrayList<>(subscribers);
        everybody.addAll(publishers);
        leaveAll(everybody);

        List<String> reasons;
        synchronized (problems) {
            reasons = new ArrayList<>(problems);
        }
        reasons.addAll(tally.dropReasons());
        return new BenchReport(parameters, transport.name(), subscribers.size(), publishers.size(),
                failed.get(), tally.droppedCount(), reasons, tally.sentCount(), tally.ackedCount(),
                tally.rejectedByCode(), tally.deliveredCount(), tally.deliveredInWindowCount(), tally.measured(),
                probe.result(), memberCheck(everybody), clientCpuPerDelivery(), transport.nodes(),
                ackedAtEnd - ackedAtStart);
    }

    /** The load generator's own CPU per delivery in the window: its capacity is the cores over this. */
    private OptionalDouble clientCpuPerDelivery() {
        long deliveries = deliveredAtEnd - deliveredAtStart;
        if (cpuAtStart < 0 || cpuAtEnd < 0 || deliveries <= 0) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of((cpuAtEnd - cpuAtStart) / 1_000.0 / deliveries);
    }

    private static long processCpuNanos() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
    }

    /** The members' own counts, when the transport keeps them; read after the drain. */
    private BenchReport.MemberCheck memberCheck(List<BenchMember> members) {
        long[] counts = members.stream().mapToLong(BenchMember::deliveries).toArray();
        if (counts.length == 0 || Arrays.stream(counts).anyMatch(count -> count < 0)) {
            return new BenchReport.MemberCheck(0, tally.seqMissingCount(), tally.seqOutOfOrderCount(), 0, 0);
        }
        return new BenchReport.MemberCheck(counts.length, tally.seqMissingCount(), tally.seqOutOfOrderCount(),
                Arrays.stream(counts).min().getAsLong(), Arrays.stream(counts).max().getAsLong());
    }

    /** Opens {@code count} members named {@code prefix-0 ...} at the connect rate; returns those that joined. */
    private List<BenchMember> joinAll(String prefix, int count) throws InterruptedException {
        phase = "connecting " + prefix + "-*";
        joining.set(count);
        joined.set(0);
        List<CompletableFuture<BenchMember>> attempts = new ArrayList<>(count);
        RatePacer connects = RatePacer.start(pacer, parameters.connectRate(), count, i -> attempts.add(
                transport.join(prefix + "-" + i, parameters.room(), tally).whenComplete(this::countJoin)));
        // The pacer thread filled the list; completing done() publishes it to this thread.
        await(connects.done());
        List<BenchMember> members = new ArrayList<>(count);
        for (CompletableFuture<BenchMember> attempt : attempts) {
            try {
                members.add(attempt.get());
            } catch (ExecutionException e) {
                // Counted and described by countJoin.
            }
        }
        return members;
    }

    private void countJoin(BenchMember member, Throwable failure) {
        if (failure == null) {
            joined.incrementAndGet();
        } else {
            failed.incrementAndGet();
            Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                    ? failure.getCause() : failure;
            synchronized (problems) {
                if (problems.size() < PROBLEMS_KEPT) {
                    problems.add(cause.getMessage());
                }
            }
        }
    }

    private void send(List<BenchMember> publishers) throws InterruptedException {
        long start = tally.now();
        long windowStart = start + parameters.warmup().toNanos();
        tally.openWindow(windowStart, parameters.duration().toNanos());
        probe.scheduleWindow(windowStart, windowStart + parameters.duration().toNanos());
        ticker.schedule(() -> {
            deliveredAtStart = tally.deliveredCount();
            ackedAtStart = tally.ackedCount();
            cpuAtStart = processCpuNanos();
        }, parameters.warmup().toNanos(), TimeUnit.NANOSECONDS);
        ticker.schedule(() -> {
            deliveredAtEnd = tally.deliveredCount();
            ackedAtEnd = tally.ackedCount();
            cpuAtEnd = processCpuNanos();
        }, parameters.warmup().toNanos() + parameters.duration().toNanos(), TimeUnit.NANOSECONDS);
        sendStart = start;
        phase = "sending";
        int count = publishers.size();
        RatePacer sends = RatePacer.start(pacer, parameters.rate(), parameters.messages(), k -> {
            publishers.get((int) (k % count)).send(runId + "-" + k, tally.nextText());
            tally.sent();
        });
        await(sends.done());
    }

    /**
     * Waits until every expected delivery and every answer to a send has arrived, or the drain time is
     * up. A delivery that members found missing by its seq (the lean client) will not arrive: it counts
     * as accounted for, so that a run that lost messages does not wait out the whole drain.
     */
    private void drain(int members) throws InterruptedException {
        phase = "draining";
        long sent = tally.sentCount();
        long deadline = System.nanoTime() + parameters.drain().toNanos();
        while (System.nanoTime() < deadline
                && (tally.deliveredCount() + tally.seqMissingCount() < (sent - tally.rejectedCount()) * members
                    || tally.ackedCount() + tally.rejectedCount() < sent)) {
            Thread.sleep(10);
        }
    }

    private void leaveAll(List<BenchMember> members) throws InterruptedException {
        phase = "leaving";
        CompletableFuture<?>[] leaving = members.stream()
                .map(member -> member.leave().exceptionally(failure -> null))
                .toArray(CompletableFuture<?>[]::new);
        try {
            CompletableFuture.allOf(leaving).get(LEAVE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // Leaving is courtesy: the report is complete, and the transport drops whatever is left.
        }
    }

    private void printProgress() {
        Histogram interval = tally.takeInterval();
        long delivered = tally.deliveredCount();
        long perSecond = delivered - deliveredAtLastTick;
        deliveredAtLastTick = delivered;
        String line;
        if (sendStart < 0) {
            line = String.format(Locale.ROOT, "%s: %d of %d joined, %d failed",
                    phase, joined.get(), joining.get(), failed.get());
        } else {
            long elapsed = (tally.now() - sendStart) / 1_000_000_000L;
            boolean warmingUp = elapsed < parameters.warmup().toSeconds();
            line = String.format(Locale.ROOT, "[%3d s] %s: sent %d, acked %d, delivered %d (%d/s)%s",
                    elapsed, warmingUp ? "warming up" : phase, tally.sentCount(), tally.ackedCount(),
                    delivered, perSecond, latency(interval));
        }
        progress.println("parley bench: " + line);
        progress.flush();
    }

    private static String latency(Histogram interval) {
        if (interval.getTotalCount() == 0) {
            return "";
        }
        return ", latency p50 " + BenchReport.millis(interval.getValueAtPercentile(50))
                + " ms, p99 " + BenchReport.millis(interval.getValueAtPercentile(99))
                + " ms, max " + BenchReport.millis(interval.getMaxValue()) + " ms";
    }

    private static <T> T await(CompletableFuture<T> future) throws InterruptedException {
        try {
            return future.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("benchmark step failed", e.getCause());
        }
    }
}
