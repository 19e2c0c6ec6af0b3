package io.parley.transport;

import io.netty.handler.codec.http.HttpResponseStatus;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Open connections, in total and per client IP address, against the configured limits. One per
 * server, shared by every event loop: a connection takes a slot when it opens and gives it back when
 * it closes. The per-address map holds only addresses with open connections.
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
     * Takes a slot for a connection from {@code address}. Returns null when it got one, else the
     * status to refuse it with: 503 when the server is full, 429 when that address has too many.
     */
    HttpResponseStatus tryAcquire(InetAddress address) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            return HttpResponseStatus.SERVICE_UNAVAILABLE;
        }
        int[] count = new int[1];
        byAddress.compute(address, (a, n) -> count[0] = n == null ? 1 : n + 1);
        if (count[0] > maxPerAddress) {
            release(address);
            return HttpResponseStatus.TOO_MANY_REQUESTS;
        }
        return null;
    }

    /** Gives back a slot {@link #tryAcquire} gave. */
    void release(InetAddress address) {
        byAddress.computeIfPresent(address, (a, n) -> n == 1 ? null : n - 1);
        open.decrementAndGet();
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
