package io.parley.transport;

import io.netty.handler.codec.http.HttpResponseStatus;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Open connections, in total and per client IP address, against the configured limits. One per
 * server, shared by every event loop: a connection takes a slot when it is accepted ({@link AcceptGate},
 * on the acceptor thread) and gives it back when it closes (on its event loop). The per-address map
 * holds only addresses with open connections. A connection from a trusted proxy takes its total slot
 * when it is accepted and its client's address slot only when it turns out to be a WebSocket (see
 * {@link Admission}).
 *
 * <p><b>The reserve.</b> Each connection holds a file descriptor, and the total is sized to fit the
 * process's descriptor limit ({@link DescriptorBudget}), so the last slots are the last descriptors.
 * They are kept for addresses that hold few connections: once fewer than a tenth of {@code max} slots
 * are free, an address that already holds {@value #FEW} or more connections is refused (429), even if
 * under its own limit. So one address, whatever {@code --max-connections-per-ip} says, never holds more
 * than {@code max - max/10} of them (or {@value #FEW}, on a tiny server), and a crowd of busy addresses
 * cannot lock out a newcomer either; only many addresses with few connections each can fill the server.
 */
final class ConnectionCounts {

    /** Connections an address may already hold and still take one of the reserved slots. */
    static final int FEW = 4;

    private final int max;
    private final int maxPerAddress;
    /** Slots at the top of {@code max} kept for addresses with fewer than {@link #FEW} connections. */
    private final int reserve;
    private final AtomicInteger open = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> byAddress = new ConcurrentHashMap<>();

    ConnectionCounts(int max, int maxPerAddress) {
        this.max = max;
        this.maxPerAddress = maxPerAddress;
        this.reserve = max / 10;
    }

    /**
     * Takes a slot for a connection from {@code address}, in total and for the address. Returns null
     * when it got one, else the status to refuse it with: 503 when the server is full, 429 when that
     * address has too many, or holds {@link #FEW} or more while only the reserve is left.
     */
    HttpResponseStatus tryAcquire(InetAddress address) {
        int total = open.incrementAndGet();
        if (total > max) {
            open.decrementAndGet();
            return HttpResponseStatus.SERVICE_UNAVAILABLE;
        }
        boolean onlyReserveLeft = total > max - reserve;
        HttpResponseStatus refusal = tryAddress(address, onlyReserveLeft ? Math.min(FEW, maxPerAddress) : maxPerAddress);
        if (refusal != null) {
            closed();
        }
        return refusal;
    }

    /** Gives back a slot {@link #tryAcquire} gave. */
    void release(InetAddress address) {
        releaseAddress(address);
        closed();
    }

    /** Takes a slot in the total only: null, or 503 when the server is full. */
    HttpResponseStatus tryOpen() {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            return HttpResponseStatus.SERVICE_UNAVAILABLE;
        }
        return null;
    }

    /** Gives back a slot {@link #tryOpen} gave. */
    void closed() {
        open.decrementAndGet();
    }

    /** Takes one of {@code address}'s slots only: null, or 429 when it has too many. */
    HttpResponseStatus tryAddress(InetAddress address) {
        return tryAddress(address, maxPerAddress);
    }

    private HttpResponseStatus tryAddress(InetAddress address, int limit) {
        int[] count = new int[1];
        byAddress.compute(address, (a, n) -> count[0] = n == null ? 1 : n + 1);
        if (count[0] > limit) {
            releaseAddress(address);
            return HttpResponseStatus.TOO_MANY_REQUESTS;
        }
        return null;
    }

    /** Gives back a slot {@link #tryAddress} gave. */
    void releaseAddress(InetAddress address) {
        byAddress.computeIfPresent(address, (a, n) -> n == 1 ? null : n - 1);
    }

    int open() {
        return open.get();
    }

    int maxPerAddress() {
        return maxPerAddress;
    }

    int max() {
        return max;
    }
}
