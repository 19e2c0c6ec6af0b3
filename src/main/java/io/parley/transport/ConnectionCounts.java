package io.parley.transport;

import io.netty.handler.codec.http.HttpResponseStatus;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Open connections, in total and per client IP address, against the configured limits. One per
 * server, shared by every event loop: a connection takes a slot when it opens and gives it back when
 * it closes. The per-address map holds only addresses with open connections. A connection from a
 * trusted proxy takes its total slot when it opens and its client's address slot only when it turns
 * out to be a WebSocket (see {@link Admission}).
 */
final class ConnectionCounts {

    private final int max;
    private final int maxPerAddress;
    private final AtomicInteger open = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> byAddress = new ConcurrentHashMap<>();

    ConnectionCounts(int max, int maxPerAddress) {
        this.max = max;
        this.maxPerAddress = maxPerAddress;
    }

    /**
     * Takes a slot for a connection from {@code address}, in total and for the address. Returns null
     * when it got one, else the status to refuse it with: 503 when the server is full, 429 when that
     * address has too many.
     */
    HttpResponseStatus tryAcquire(InetAddress address) {
        HttpResponseStatus refusal = tryOpen();
        if (refusal != null) {
            return refusal;
        }
        refusal = tryAddress(address);
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
        int[] count = new int[1];
        byAddress.compute(address, (a, n) -> count[0] = n == null ? 1 : n + 1);
        if (count[0] > maxPerAddress) {
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
