package io.parley.browser;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP relay in front of a test's server, so that a page keeps one address while servers behind it
 * stop and start. {@link #down()} drops every relayed connection and refuses new ones, as a server
 * process that dies would; {@link #to} points the relay at the next server.
 *
 * <p>Why not restart on the same port: {@code ParleyServer.close()} sometimes leaves idle keep-alive
 * HTTP connections open inside the test's JVM, and the browser then sends its next request into a
 * socket nobody reads. A real process exit closes them; this relay does the same.
 *
 * <p>Plain bytes both ways, a virtual thread per direction; the Host and Origin headers pass
 * unchanged, so the server sees the page's own origin.
 */
final class Relay implements AutoCloseable {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final ServerSocket listener;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private volatile int target;

    Relay(int target) throws IOException {
        this.target = target;
        listener = new ServerSocket(0, 50, LOOPBACK);
        Thread.ofVirtual().name("relay-accept").start(this::accept);
    }

    URI uri(String path) {
        return URI.create("http://" + LOOPBACK.getHostAddress() + ":" + listener.getLocalPort() + path);
    }

    /** Relays new connections to this port. */
    void to(int port) {
        target = port;
    }

    /** Drops every connection and refuses new ones until {@link #to}. */
    void down() {
        target = 0;
        sockets.forEach(this::drop);
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Thread.ofVirtual().start(() -> relay(client));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void relay(Socket client) {
        sockets.add(client);
        int port = target;
        if (port == 0) {
            drop(client);
            return;
        }
        try {
            Socket server = new Socket(LOOPBACK, port);
            sockets.add(server);
            Thread.ofVirtual().start(() -> pump(server, client));
            pump(client, server);
        } catch (IOException e) {
            drop(client);
        }
    }

    private void pump(Socket from, Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
        } catch (IOException e) {
            // one side is gone: close both below
        } finally {
            drop(from);
            drop(to);
        }
    }

    private void drop(Socket socket) {
        sockets.remove(socket);
        try {
            socket.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        down();
    }
}
