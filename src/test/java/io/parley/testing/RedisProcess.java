package io.parley.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} (Debian's package) for a test: its own port on 127.0.0.1, its own
 * directory, no persistence unless asked, stopped with the test. It can be stopped and started again
 * on the same port (a Redis restart: every key and subscription gone), or emptied in place.
 *
 * <p>{@link #cluster(Path, int)} starts several in cluster mode and joins them into one Redis Cluster
 * of that many masters, slots spread evenly, as {@code redis-cli --cluster create} does.
 */
public final class RedisProcess implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

    private final Path dir;
    private final int port;
    private final boolean clustered;
    private Process process;

    private RedisProcess(Path dir, int port, boolean clustered) {
        this.dir = dir;
        this.port = port;
        this.clustered = clustered;
    }

    /** Whether this machine has {@code redis-server} (CI installs it; see .ci/run). */
    public static boolean available() {
        return Files.isExecutable(Path.of("/usr/bin/redis-server"));
    }

    /** A standalone Redis on a free port, its files in {@code dir}. */
    public static RedisProcess start(Path dir) throws Exception {
        RedisProcess redis = new RedisProcess(Files.createDirectories(dir), freePort(), false);
        redis.startProcess();
        return redis;
    }

    /** {@code masters} Redis processes joined into one cluster, each master with a third of the slots. */
    public static List<RedisProcess> cluster(Path dir, int masters) throws Exception {
        List<RedisProcess> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < masters; i++) {
                RedisProcess node = new RedisProcess(Files.createDirectories(dir.resolve("node" + i)), freePort(), true);
                node.startProcess();
                nodes.add(node);
            }
            List<String> create = new ArrayList<>(List.of("redis-cli", "--cluster", "create"));
            nodes.forEach(n -> create.add("127.0.0.1:" + n.port));
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            Process p = new ProcessBuilder(create).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("redis-cli --cluster create failed:\n" + out);
            }
            long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
            for (RedisProcess n : nodes) {
                while (!n.command("CLUSTER", "INFO").contains("cluster_state:ok")) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the cluster did not become ok: " + n.command("CLUSTER", "INFO"));
                    }
                    Thread.sleep(100);
                }
            }
            return nodes;
        } catch (Exception | Error e) {
            nodes.forEach(RedisProcess::close);
            throw e;
        }
    }

    /**
     * A port that is free now, and whose cluster bus port (+10000) is too, both below the ephemeral
     * range ({@link FreePorts}): a restarted Redis binds the same port again. Another listener may take
     * it before Redis binds it; the window is short, as with every free-port helper.
     */
    private static int freePort() throws IOException {
        for (int attempt = 0; attempt < 50; attempt++) {
            int port = FreePorts.belowEphemeralRange();
            if (port + 10000 >= 32768) {
                continue;
            }
            try (ServerSocket bus = new ServerSocket()) {
                bus.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port + 10000));
                return port;
            } catch (IOException taken) {
                // Try another.
            }
        }
        throw new IOException("no free port pair for redis");
    }

    private void startProcess() throws Exception {
        List<String> command = new ArrayList<>(List.of("redis-server",
                "--port", String.valueOf(port), "--bind", "127.0.0.1", "--dir", dir.toString(),
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", dir.resolve("redis.log").toString()));
        if (clustered) {
            command.addAll(List.of("--cluster-enabled", "yes", "--cluster-config-file",
                    dir.resolve("nodes.conf").toString(), "--cluster-node-timeout", "2000"));
        }
        process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("redis.out").toFile()).start();
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            try {
                if (command("PING").equals("PONG")) {
                    return;
                }
            } catch (IOException notYet) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IllegalStateException("redis-server did not start on " + port + ": "
                            + Files.readString(dir.resolve("redis.out")) + log());
                }
                Thread.sleep(50);
            }
        }
    }

    public int port() {
        return port;
    }

    /** {@code redis://127.0.0.1:PORT}, what Parley's --redis-url takes. */
    public String url() {
        return "redis://127.0.0.1:" + port;
    }

    /** Stops the process at once (SIGKILL): everything it held is gone. */
    public void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** A new, empty Redis on the same port, as after a crash or a restart without persistence. */
    public void restart() throws Exception {
        stop();
        startProcess();
    }

    /** Empties it in place (FLUSHALL): keys gone, connections and subscriptions kept. */
    public void flushAll() throws IOException {
        command("FLUSHALL");
    }

    /**
     * Sends one command in RESP and returns the reply as text: a simple string or error as is, a bulk
     * string's content, an integer's digits. Enough for a test's checks; not a client.
     */
    public String command(String... args) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(5000);
            StringBuilder req = new StringBuilder("*").append(args.length).append("\r\n");
            for (String a : args) {
                byte[] b = a.getBytes(StandardCharsets.UTF_8);
                req.append('$').append(b.length).append("\r\n").append(a).append("\r\n");
            }
            OutputStream out = s.getOutputStream();
            out.write(req.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = s.getInputStream();
            String first = line(in);
            return switch (first.charAt(0)) {
                case '+', '-', ':' -> first.substring(1);
                case '$' -> {
                    int n = Integer.parseInt(first.substring(1));
                    if (n < 0) {
                        yield "";
                    }
                    byte[] body = in.readNBytes(n + 2);
                    yield new String(body, 0, n, StandardCharsets.UTF_8);
                }
                default -> first;
            };
        }
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        int c;
        while ((c = in.read()) != -1) {
            if (c == '\r') {
                in.read();
                break;
            }
            sb.append((char) c);
        }
        if (sb.isEmpty()) {
            throw new IOException("redis closed the connection");
        }
        return sb.toString();
    }

    private String log() {
        try {
            return Files.readString(dir.resolve("redis.log"));
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() {
        try {
            stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
