package io.parley.engine.cluster;

import org.slf4j.Logger;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Logs one warning per interval for a failure that may repeat thousands of times a second (every
 * publish while Redis is down), with the number of occurrences it stood for. Any thread.
 */
final class LogThrottle {

    private static final long INTERVAL_NANOS = 10_000_000_000L;

    private final Logger log;
    private final String what;
    private final AtomicLong nextNanos = new AtomicLong(System.nanoTime());
    private final AtomicLong suppressed = new AtomicLong();

    LogThrottle(Logger log, String what) {
        this.log = log;
        this.what = what;
    }

    void warn(Throwable cause) {
        long now = System.nanoTime();
        long next = nextNanos.get();
        if (now - next >= 0 && nextNanos.compareAndSet(next, now + INTERVAL_NANOS)) {
            long more = suppressed.getAndSet(0);
            log.warn("{} failed{}: {}", what, more > 0 ? " (and " + more + " more times since the last warning)" : "",
                    cause.toString());
        } else {
            suppressed.incrementAndGet();
        }
    }
}
