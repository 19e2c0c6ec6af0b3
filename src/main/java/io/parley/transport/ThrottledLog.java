package io.parley.transport;

import org.slf4j.Logger;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * One kind of log line that clients can cause, written at most {@code perMinute} times a minute; the
 * rest are counted, and the first line of the next minute says how many were left out. A client that
 * repeats a request the server refuses, or one that hits a bug, then costs the log a few lines a
 * minute instead of one (with a stack trace, kilobytes) per request.
 *
 * <p>Logback has no such limit of its own: its {@code DuplicateMessageFilter} stops a message after N
 * repetitions for as long as it stays in its cache, with no time window and no count of what it
 * dropped, and it is configured for the whole process rather than for the lines a client can cause.
 *
 * <p>Called from any event loop at once: the counts are atomic. At a minute's turn a few lines may
 * slip past the limit or be counted in the neighbouring minute; the bound is what matters.
 */
final class ThrottledLog {

    private static final long WINDOW_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final Logger log;
    private final String kind;
    private final int perMinute;
    private final LongSupplier clock;
    private final AtomicLong windowStart;
    private final AtomicInteger written = new AtomicInteger();
    private final AtomicInteger leftOut = new AtomicInteger();

    /**
     * @param kind what the lines are about, for the summary ("failed API requests")
     */
    ThrottledLog(Logger log, String kind, int perMinute) {
        this(log, kind, perMinute, System::nanoTime);
    }

    /** With a clock of nanoseconds other than {@link System#nanoTime()}: for tests. */
    ThrottledLog(Logger log, String kind, int perMinute, LongSupplier clock) {
        this.log = log;
        this.kind = kind;
        this.perMinute = perMinute;
        this.clock = clock;
        this.windowStart = new AtomicLong(clock.getAsLong());
    }

    /** As {@link Logger#error(String, Object...)}, if this minute's lines are not used up. */
    void error(String format, Object... arguments) {
        if (admit()) {
            log.error(format, arguments);
        }
    }

    /** As {@link Logger#info(String, Object...)}, if this minute's lines are not used up. */
    void info(String format, Object... arguments) {
        if (admit()) {
            log.info(format, arguments);
        }
    }

    private boolean admit() {
        long now = clock.getAsLong();
        long start = windowStart.get();
        if (now - start >= WINDOW_NANOS && windowStart.compareAndSet(start, now)) {
            written.set(0);
            int dropped = leftOut.getAndSet(0);
            if (dropped > 0) {
                log.warn("{} more lines about {} were left out in the last {} s (at most {} a minute are written)",
                        dropped, kind, TimeUnit.NANOSECONDS.toSeconds(now - start), perMinute);
            }
        }
        if (written.incrementAndGet() <= perMinute) {
            return true;
        }
        leftOut.incrementAndGet();
        return false;
    }
}
