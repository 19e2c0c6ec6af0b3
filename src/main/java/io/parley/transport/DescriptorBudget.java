package io.parley.transport;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * How many connections fit the process's file descriptor limit ({@code ulimit -n}). Each connection
 * holds one descriptor; the server itself holds others (jars, the SQLite file and its WAL, the log,
 * one selector and its wake-up pipe per event loop), and accepting a connection takes a descriptor
 * before the server can look at it and refuse it. A {@code --max-connections} past what the limit
 * leaves would let the server run out of descriptors: accepts fail with "Too many open files" and
 * everyone, not only the client over the limit, is kept out.
 *
 * <p>So at start the server counts what it already holds, adds {@link #HEADROOM} for what it opens
 * later, and accepts at most what is left of the limit. A first run must work with the machine's
 * default limit, so a limit too low for {@code --max-connections} lowers the effective limit with a
 * WARN line naming both remedies rather than refusing to start; only a limit that leaves no room at
 * all stops the start.
 *
 * <p>Called once by {@link ParleyServer}'s constructor, on the thread that starts the server, after
 * the store and the event loops are open (their descriptors are then counted).
 */
final class DescriptorBudget {

    private static final Logger log = LoggerFactory.getLogger(DescriptorBudget.class);

    /**
     * Descriptors kept for what the server opens after the check: SQLite's temporary files, classes
     * loaded from jars not yet opened, /proc reads for /metrics, the one accepted only to be refused.
     */
    static final int HEADROOM = 64;

    private DescriptorBudget() {
    }

    /**
     * The connections to accept at most: {@code wanted}, or what the descriptor limit leaves of it.
     * Returns {@code wanted} when the platform does not tell its limit (Windows).
     *
     * @throws IllegalStateException when the limit leaves no room for a single connection
     */
    static int connections(int wanted) {
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (!(os instanceof com.sun.management.UnixOperatingSystemMXBean unix)) {
            log.info("Connections: at most {} (this platform does not tell its descriptor limit)", wanted);
            return wanted;
        }
        long limit = unix.getMaxFileDescriptorCount();
        long inUse = unix.getOpenFileDescriptorCount();
        int fitting = fit(wanted, limit, inUse);
        if (fitting < 1) {
            throw new IllegalStateException("the open file limit (ulimit -n) is " + limit + " and the server"
                    + " already holds " + inUse + ": no room for connections; raise it to at least "
                    + (inUse + HEADROOM + wanted));
        }
        if (fitting < wanted) {
            log.warn("--max-connections {} does not fit the open file limit of {} (ulimit -n), of which the server"
                            + " itself holds {} and keeps {} spare: accepting at most {} connections. Raise the"
                            + " limit to {} (ulimit -n, or LimitNOFILE= under systemd) or lower --max-connections"
                            + " (PARLEY_MAX_CONNECTIONS).",
                    wanted, limit, inUse, HEADROOM, fitting, inUse + HEADROOM + wanted);
        } else {
            log.info("Connections: at most {} (open file limit {}, {} in use)", wanted, limit, inUse);
        }
        return fitting;
    }

    /** What {@code limit} descriptors leave for connections, {@code inUse} held and {@link #HEADROOM} kept. */
    static int fit(int wanted, long limit, long inUse) {
        long room = limit - inUse - HEADROOM;
        return (int) Math.max(0, Math.min(wanted, room));
    }
}
