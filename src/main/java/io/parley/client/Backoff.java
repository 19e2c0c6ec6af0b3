package io.parley.client;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Delays between reconnect attempts: doubling from {@code initial} up to {@code max}, each drawn at
 * random from the upper half of its step ("equal jitter"), so that many clients dropped by the same
 * server restart do not all come back in the same millisecond. Not thread-safe: its owner calls it
 * under its own lock.
 */
public final class Backoff {

    private final long initialMillis;
    private final long maxMillis;
    private int failures;

    public Backoff(Duration initial, Duration max) {
        this.initialMillis = initial.toMillis();
        this.maxMillis = max.toMillis();
    }

    /** The delay before the next attempt; each call without a {@link #reset} doubles the step. */
    public Duration next() {
        long step = Math.min(maxMillis, initialMillis << Math.min(failures, 30));
        failures++;
        long half = step / 2;
        return Duration.ofMillis(half + ThreadLocalRandom.current().nextLong(half + 1));
    }

    /** Call after a success: the next failure starts over from {@code initial}. */
    public void reset() {
        failures = 0;
    }
}
