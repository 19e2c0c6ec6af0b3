package io.parley.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code parley bench --joins-only}: how long {@code --subscribers} members take to connect, say hello
 * and join one room, and how many presence frames that costs them. Nothing is sent. What it answers is
 * whether a big room fills fast: every join used to be named to every member, n²/2 frames for n
 * members, and the time with it.
 *
 * <ol>
 *   <li>First, untimed, {@code warmupMembers} members join another room ({@code <room>-warmup}) and
 *       leave again: the bench is a fresh JVM, and without this its own start (event loops, class loading,
 *       its JIT) fell inside the first connects, so that no join time went below about two seconds.</li>
 *   <li>Members connect at {@code --connect-rate} (give it far above the member count to open them all
 *       at once) and join; the join time runs from the first connect to the last {@code joined}.</li>
 *   <li>Presence frames are counted from the first connect until none has come for two seconds (a big
 *       room's count comes once a second), or ten seconds after the last join.</li>
 * </ol>
 * Only the lean client reports presence frames ({@link MemberEvents#presenceReceived}).
 *
 * <p>The CPU each side spent over the timed joins is read at both edges of it: the server's from its
 * {@code /metrics} ({@code process_cpu_time_seconds_total}; one read costs it about a millisecond), the load
 * generator's from its own JVM. On one machine the two share the cores, so a join time is only as good
 * as both figures together.
 *
 * <p>Threads: the caller's thread waits; the pacer thread starts connects; the transport's threads
 * count joins and frames.
 */
public final class JoinRun {

    private static final long QUIET_NANOS = TimeUnit.SECONDS.toNanos(2);
    private static final long SETTLE_LIMIT_NANOS = TimeUnit.SECONDS.toNanos(10);

    /**
     * What a joins-only run measured.
     *
     * @param joinNanos           from the first connect to the last join answered
     * @param presenceAtLastJoin  presence frames all members had received when the last join was answered
     * @param presenceFrames      presence frames all members received, the settling included
     * @param serverCpuNanos      the server's CPU time over the timed joins, or -1 when it could not be read
     * @param clientCpuNanos      this JVM's CPU time over the timed joins, or -1 when the JVM does not tell
     * @param serverCpuUnread     why the server's CPU time was not read, or null when it was
     */
    public record Result(int members, int joined, int failed, long joinNanos, long presenceAtLastJoin,
                         long presenceFrames, int warmupMembers, long serverCpuNanos, long clientCpuNanos,
                         String serverCpuUnread, List<String> problems) {

        public void print(PrintWriter out) {
            if (warmupMembers > 0) {
                out.printf(Locale.ROOT, "client warm-up: %d members joined and left another room first, not timed%n",
                        warmupMembers);
            }
            out.printf(Locale.ROOT, "joins: %d of %d members joined one room in %.2f s (%d failed)%n",
                    joined, members, joinNanos / 1e9, failed);
            out.printf(Locale.ROOT, "presence frames: %d by the last join, %d after settling (%.2f per join)%n",
                    presenceAtLastJoin, presenceFrames, joined == 0 ? 0.0 : (double) presenceFrames / joined);
            out.printf(Locale.ROOT, "CPU over the timed joins: server %s, load generator %s%n",
                    serverCpuNanos < 0 ? "n/a (" + serverCpuUnread + ")" : perMember(serverCpuNanos),
                    clientCpuNanos < 0 ? "n/a" : perMember(clientCpuNanos));
            problems.forEach(p -> out.println("problem: " + p));
            out.flush();
        }

        private String perMember(long cpuNanos) {
            return String.format(Locale.ROOT, "%.2f s (%.0f µs per member)", cpuNanos / 1e9,
                    joined == 0 ? 0.0 : cpuNanos / 1e3 / joined);
        }

        public boolean passed() {
            return failed == 0 && joined == members;
        }
    }

    private JoinRun() {
    }

    /**
     * @param warmupMembers members to join and leave, untimed, before the measured run; 0 for none
     * @param metrics       the server's {@code /metrics}, for its CPU time; null not to read it
     */
    public static Result run(BenchParameters parameters, BenchTransport transport, int warmupMembers,
                             MetricsReader metrics, PrintWriter progress) throws InterruptedException {
        warmUp(parameters.room() + "-warmup", warmupMembers, transport);
        progress.printf(Locale.ROOT, "parley bench: %d members joining %s%n", parameters.subscribers(),
                parameters.room());
        progress.flush();
        ServerCpu serverCpu = new ServerCpu(metrics);
        serverCpu.read();
        long clientCpuBefore = processCpuNanos();
        LongAdder presence = new LongAdder();
        AtomicLong lastPresence = new AtomicLong(System.nanoTime());
        AtomicLong lastJoin = new AtomicLong();
        List<String> problems = new ArrayList<>();
        MemberEvents events = new MemberEvents.Ignoring() {
            @Override
            public void presenceReceived() {
                presence.increment();
                lastPresence.lazySet(System.nanoTime());
            }

            @Override
            public void dropped(String member, String why) {
                synchronized (problems) {
                    if (problems.size() < 5) {
                        problems.add(member + " dropped: " + why);
                    }
                }
            }
        };
        int count = parameters.subscribers();
        ScheduledExecutorService pacer = Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("parley-bench-pacer").factory());
        List<CompletableFuture<BenchMember>> attempts = new ArrayList<>(count);
        long start = System.nanoTime();
        try {
            RatePacer connects = RatePacer.start(pacer, parameters.connectRate(), count, i -> attempts.add(
                    transport.join("join-" + i, parameters.room(), events)
                            .whenComplete((m, e) -> lastJoin.accumulateAndGet(System.nanoTime(), Math::max))));
            connects.done().get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("connecting failed", e.getCause());
        } finally {
            pacer.shutdownNow();
        }
        int joined = 0;
        int failed = 0;
        for (CompletableFuture<BenchMember> attempt : attempts) {
            try {
                attempt.get();
                joined++;
            } catch (ExecutionException e) {
                failed++;
                synchronized (problems) {
                    if (problems.size() < 5) {
                        problems.add(String.valueOf(e.getCause().getMessage()));
                    }
                }
            }
        }
        long joinNanos = lastJoin.get() - start;
        long atLastJoin = presence.sum();
        long clientCpuAfter = processCpuNanos();
        serverCpu.read();
        progress.printf(Locale.ROOT, "parley bench: %d joined in %.2f s; waiting for presence to settle%n",
                joined, joinNanos / 1e9);
        progress.flush();
        long settleUntil = System.nanoTime() + SETTLE_LIMIT_NANOS;
        while (System.nanoTime() < settleUntil && System.nanoTime() - lastPresence.get() < QUIET_NANOS) {
            Thread.sleep(50);
        }
        List<String> reasons;
        synchronized (problems) {
            reasons = List.copyOf(problems);
        }
        return new Result(count, joined, failed, joinNanos, atLastJoin, presence.sum(), warmupMembers,
                serverCpu.spent(), clientCpuBefore < 0 || clientCpuAfter < 0 ? -1 : clientCpuAfter - clientCpuBefore,
                serverCpu.unread, reasons);
    }

    /** This JVM's CPU time so far, every thread, or -1 when the JVM does not tell. */
    private static long processCpuNanos() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
    }

    /** The server's CPU time at the edges of the timed joins: the first {@link #read} and the last. */
    private static final class ServerCpu {
        private final MetricsReader metrics;
        private double first = Double.NaN;
        private double last = Double.NaN;
        private String unread;

        ServerCpu(MetricsReader metrics) {
            this.metrics = metrics;
            this.unread = metrics == null ? "not read" : null;
        }

        void read() throws InterruptedException {
            if (unread != null) {
                return;
            }
            try {
                Double seconds = metrics.read().get(MetricsReader.CPU_SECONDS);
                if (seconds == null) {
                    unread = "no " + MetricsReader.CPU_SECONDS + " in /metrics";
                } else if (Double.isNaN(first)) {
                    first = seconds;
                } else {
                    last = seconds;
                }
            } catch (IOException e) {
                unread = e.getMessage();
            }
        }

        long spent() {
            return unread != null || Double.isNaN(last) ? -1 : Math.round((last - first) * 1e9);
        }
    }

    /** Joins {@code members} members into {@code room} at once and waits until they have left it again. */
    private static void warmUp(String room, int members, BenchTransport transport) throws InterruptedException {
        if (members <= 0) {
            return;
        }
        List<CompletableFuture<BenchMember>> warm = new ArrayList<>(members);
        for (int i = 0; i < members; i++) {
            warm.add(transport.join("warmup-" + i, room, MemberEvents.IGNORED));
        }
        List<CompletableFuture<Void>> left = new ArrayList<>(members);
        for (CompletableFuture<BenchMember> member : warm) {
            try {
                left.add(member.get(60, TimeUnit.SECONDS).leave());
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("the client warm-up could not join: " + e.getMessage(), e);
            }
        }
        try {
            CompletableFuture.allOf(left.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("the client warm-up could not leave: " + e.getMessage(), e);
        }
    }
}
