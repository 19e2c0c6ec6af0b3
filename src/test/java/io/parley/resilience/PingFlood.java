package io.parley.resilience;

import io.parley.testing.RawSocket;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The ping flood of issue 8: connections that upgrade to /chat, never say hello, never read (a 4 KB
 * receive buffer), and send WebSocket pings with 125-byte payloads as fast as loopback takes them. A
 * connection the server closes is replaced by a new one, so the pressure lasts until {@link #close()}.
 */
final class PingFlood implements AutoCloseable {

    /** 256 masked pings of 125 bytes each, written in one go. */
    private static final byte[] BURST = burst(256, 125);

    private final int port;
    private final List<Thread> attackers = new ArrayList<>();
    private final java.util.Set<RawSocket> open = ConcurrentHashMap.newKeySet();
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong closedByServer = new AtomicLong();
    private volatile boolean running = true;

    private PingFlood(int port) {
        this.port = port;
    }

    /** Starts {@code count} attackers against 127.0.0.1:{@code port}. */
    static PingFlood start(int port, int count) {
        PingFlood flood = new PingFlood(port);
        for (int i = 0; i < count; i++) {
            Thread t = new Thread(flood::attack, "ping-flood-" + i);
            t.setDaemon(true);
            flood.attackers.add(t);
            t.start();
        }
        return flood;
    }

    private void attack() {
        while (running) {
            try (RawSocket raw = new RawSocket(port, 4096)) {
                open.add(raw);
                try {
                    raw.upgrade();
                    connections.incrementAndGet();
                    while (running) {
                        raw.write(BURST);
                        bytesSent.addAndGet(BURST.length);
                    }
                } catch (IOException closed) {
                    if (running) {
                        closedByServer.incrementAndGet();
                    }
                } finally {
                    open.remove(raw);
                }
            } catch (IOException refused) {
                // Refused or reset while connecting: try again while the flood lasts.
            }
        }
    }

    long bytesSent() {
        return bytesSent.get();
    }

    /** Connections that completed the upgrade. */
    long connections() {
        return connections.get();
    }

    /** Connections the server ended while they were still sending. */
    long closedByServer() {
        return closedByServer.get();
    }

    /** Stops the attackers; closing their sockets ends a write that blocks. */
    @Override
    public void close() throws InterruptedException {
        running = false;
        for (RawSocket raw : open) {
            try {
                raw.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        for (Thread t : attackers) {
            t.join(10_000);
        }
    }

    private static byte[] burst(int count, int size) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < count; i++) {
            out.write(0x80 | RawSocket.PING);
            out.write(0x80 | size);
            // A zero masking key is a valid one, and leaves the payload as it is.
            out.writeBytes(new byte[4]);
            out.writeBytes("p".repeat(size).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
        return out.toByteArray();
    }
}
