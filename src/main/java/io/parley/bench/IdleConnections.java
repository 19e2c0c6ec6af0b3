package io.parley.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The idle-connection workload of {@code parley bench idle}: opens connections that say hello, join
 * a room and then stay silent, so that a server's memory per idle member can be read while they are
 * held (docs/BENCHMARKS.md, "Memory"). Members are spread over rooms of {@code roomSize}: every join
 * is announced to every member of its room, so one room of 20,000 would measure presence traffic
 * (issue 10, section 4), not memory.
 *
 * <p>Threads: {@link #open} runs on the caller's thread, paces the connects and waits; the transport's I/O threads report drops through {@link MemberEvents}.
 */
public final class IdleConnections implements AutoCloseable {

    /** Connections between connect and joined at once. */
    private static final int MAX_IN_FLIGHT = 200;

    private final BenchTransport transport;
    private final List<BenchMember> members;
    private final AtomicInteger dropped;
    private final int failed;

    private IdleConnections(BenchTransport transport, List<BenchMember> members, AtomicInteger dropped, int failed) {
        this.transport = transport;
        this.members = members;
        this.dropped = dropped;
        this.failed = failed;
    }

    /**
     * Opens {@code count} members named {@code idle-0 ...}, {@code connectRate} a second, the i-th in
     * room {@code idle-(i / roomSize)}, and waits until each has joined or failed.
     */
    public static IdleConnections open(BenchTransport transport, int count, int roomSize, double connectRate,
                                       PrintWriter progress) throws InterruptedException {
        AtomicInteger dropped = new AtomicInteger();
        AtomicInteger joined = new AtomicInteger();
        MemberEvents events = new MemberEvents.Ignoring() {
            @Override
            public void dropped(String member, String why) {
                dropped.incrementAndGet();
            }
        };
        List<CompletableFuture<BenchMember>> attempts = new ArrayList<>(count);
        // A server on shared cores answers handshakes slower than they can be started: without a cap on
        // those in flight, every join waits behind all later connects and the first ones time out.
        Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
        long start = System.nanoTime();
        long lastReport = start;
        for (int i = 0; i < count; i++) {
            long due = start + (long) (i * 1e9 / connectRate);
            while (System.nanoTime() < due) {
                LockSupport.parkNanos(due - System.nanoTime());
            }
            inFlight.acquire();
            attempts.add(transport.join("idle-" + i, "idle-" + (i / roomSize), events)
                    .whenComplete((member, failure) -> {
                        inFlight.release();
                        if (failure == null) {
                            joined.incrementAndGet();
                        }
                    }));
            if (System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(1)) {
                lastReport = System.nanoTime();
                progress.printf(Locale.ROOT, "parley bench idle: %d of %d joined%n", joined.get(), count);
                progress.flush();
            }
        }
        List<BenchMember> members = new ArrayList<>(count);
        int failed = 0;
        String firstProblem = null;
        for (CompletableFuture<BenchMember> attempt : attempts) {
            try {
                members.add(attempt.get());
            } catch (ExecutionException e) {
                failed++;
                if (firstProblem == null) {
                    firstProblem = e.getCause().getMessage();
                }
            }
        }
        if (firstProblem != null) {
            progress.println("parley bench idle: first failure: " + firstProblem);
        }
        return new IdleConnections(transport, members, dropped, failed);
    }

    public int joined() {
        return members.size();
    }

    public int failed() {
        return failed;
    }

    /** Members whose connection ended while held. */
    public int dropped() {
        return dropped.get();
    }

    /** Closes every connection (the transport's threads with them). */
    @Override
    public void close() {
        transport.close();
    }

    /**
     * The resident set size of process {@code pid} in bytes (VmRSS in /proc/PID/status: what the
     * kernel holds in RAM for it, heap or not), or -1 where there is no /proc or no such process.
     */
    public static long residentBytes(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.substring(6).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
