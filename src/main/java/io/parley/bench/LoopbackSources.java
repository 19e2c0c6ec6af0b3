package io.parley.bench;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Loopback source addresses for a load generator that must look like many clients: a server keeps the
 * last tenth of its connections for addresses holding fewer than 4, so near its limit the connections
 * must come from thousands of addresses. All of 127.0.0.0/8 is loopback on Linux; these are
 * 127.0.0.1, 127.0.0.2, ... 127.0.1.1, ..., leaving out last bytes 0 and 255 so that none looks like a
 * network or broadcast address to whoever reads the server's logs.
 */
public final class LoopbackSources {

    /** The most addresses {@link #first} gives: 127.0.0.0/16 less the last bytes 0 and 255. */
    public static final int MAX = 65_000;

    private LoopbackSources() {
    }

    /**
     * The first {@code k} addresses, port 0 (any); none for {@code k == 1}, where the kernel's own
     * choice (127.0.0.1) does.
     *
     * @throws IllegalArgumentException unless 1 ≤ k ≤ {@link #MAX}
     */
    public static List<InetSocketAddress> first(int k) {
        if (k < 1 || k > MAX) {
            throw new IllegalArgumentException("--source-addresses must be 1 to " + MAX + ", was " + k);
        }
        List<InetSocketAddress> sources = new ArrayList<>();
        for (int n = 1; k > 1 && sources.size() < k; n++) {
            if ((n & 0xff) != 0 && (n & 0xff) != 0xff) {
                sources.add(new InetSocketAddress("127.0." + (n >> 8) + "." + (n & 0xff), 0));
            }
        }
        return sources;
    }
}
