package io.parley.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ports for servers that bind again later: a restart on the same port, or a child process that binds
 * seconds after the port was chosen.
 *
 * <p>Port 0 hands out a port from Linux's ephemeral range (32768-60999), the range outgoing
 * connections take their local ports from. On a machine where other tests open thousands of
 * connections, one of them took such a port while its server was down or its JVM was starting, and
 * the server could not bind ("Address already in use"). A port below that range is never an outgoing
 * connection's, so only another listener could take it.
 */
public final class FreePorts {

    private static final int FROM = 20_000;
    private static final int TO = 32_000;

    private FreePorts() {
    }

    /** A port in 20000-31999 that is free on the loopback address now. */
    public static int belowEphemeralRange() {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(FROM, TO);
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new UncheckedIOException(new IOException("no free port in " + FROM + "-" + (TO - 1) + " after 200 tries"));
    }
}
