package io.parley.testing;

import io.parley.store.PostgresUrl;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server of the machine's Debian package, for tests: a fresh cluster ({@code initdb})
 * in a temporary directory, listening on 127.0.0.1 and a free port, its socket in that directory too,
 * deleted on {@link #close()}. Start takes a few seconds, so a test class shares one and gives each
 * test its own database ({@link #createDatabase}).
 *
 * <p>PostgreSQL refuses to run as root: when the tests do, every PostgreSQL command runs as the
 * {@code postgres} user ({@code runuser}), and the directory is handed to it. Clients log in over TCP
 * with a password (scram-sha-256), as a deployment's would.
 *
 * <p>{@link #stop()} kills the server as a crash would ({@code pg_ctl stop -m immediate}) and
 * {@link #start()} brings it back on the same port with the same data: for fault tests.
 */
public final class PostgresProcess implements AutoCloseable {

    public static final String USER = "postgres";
    public static final String PASSWORD = "parley-test:p@ss";
    private static final AtomicInteger DATABASES = new AtomicInteger();

    private final Path bin;
    private final Path dir;
    private final Path data;
    private final int port;
    private boolean running;
    /** Stops the server if the test JVM ends without {@link #close()}, so no server outlives it. */
    private final Thread reaper = new Thread(this::stop, "postgres-reaper");

    private PostgresProcess(Path bin, Path dir, int port) {
        this.bin = bin;
        this.dir = dir;
        this.data = dir.resolve("data");
        this.port = port;
    }

    /** The directory of initdb, pg_ctl and postgres, or null when PostgreSQL is not installed. */
    public static Path binaries() {
        Path base = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(base)) {
            try (Stream<Path> versions = Files.list(base)) {
                Path newest = versions.map(v -> v.resolve("bin"))
                        .filter(b -> Files.isExecutable(b.resolve("initdb")))
                        .max(Comparator.comparingInt(b -> Integer.parseInt(b.getParent().getFileName().toString()
                                .replaceAll("\\D", "0"))))
                        .orElse(null);
                if (newest != null) {
                    return newest;
                }
            } catch (IOException e) {
                return null;
            }
        }
        for (String p : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!p.isEmpty() && Files.isExecutable(Path.of(p, "initdb"))) {
                return Path.of(p);
            }
        }
        return null;
    }

    /** Why PostgreSQL tests cannot run here, for a skipped test's message; null when they can. */
    public static String unavailableReason() {
        return binaries() == null
                ? "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH);"
                + " install the Debian package postgresql, as .ci/run does"
                : null;
    }

    /** initdb into a new temporary directory, and start. */
    public static PostgresProcess launch() {
        Path bin = binaries();
        if (bin == null) {
            throw new IllegalStateException(unavailableReason());
        }
        try {
            Path dir = Files.createTempDirectory("parley-pg");
            handToPostgres(dir);
            PostgresProcess pg = new PostgresProcess(bin, dir, freePort());
            Path pwfile = dir.resolve("pwfile");
            Files.writeString(pwfile, PASSWORD + "\n");
            handToPostgres(pwfile);
            pg.run(List.of(bin.resolve("initdb").toString(), "-D", pg.data.toString(), "-U", USER,
                    "--pwfile=" + pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                    "--no-sync", "--no-instructions"), 120);
            Runtime.getRuntime().addShutdownHook(pg.reaper);
            pg.start();
            return pg;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts the server again on the same port and data, after {@link #stop()}. Returns once it accepts. */
    public synchronized void start() {
        if (running) {
            return;
        }
        // fsync off: these clusters are thrown away, and a crash of the server process (stop) loses
        // nothing that reached the kernel; it keeps the tests fast on a shared machine.
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("log").toString(),
                "-w", "-t", "60", "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1"
                        + " -c fsync=off -c max_connections=60",
                "start"), 90);
        running = true;
    }

    /** Kills the server as a crash would: clients' connections break, nothing is shut down cleanly. */
    public synchronized void stop() {
        if (!running) {
            return;
        }
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop"), 60);
        running = false;
    }

    public synchronized void restart() {
        stop();
        start();
    }

    public int port() {
        return port;
    }

    /** A new, empty database; returns its URL in the libpq form an operator would give, with the password. */
    public String createDatabase() {
        String name = "t" + DATABASES.incrementAndGet();
        try (Connection c = DriverManager.getConnection(jdbcUrl("postgres"), USER, PASSWORD);
             Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name, e);
        }
        return "postgresql://" + USER + ":" + PASSWORD.replace(":", "%3A").replace("@", "%40") + "@127.0.0.1:"
                + port + "/" + name;
    }

    /** A JDBC URL of a database on this server (log in as {@link #USER} with {@link #PASSWORD}). */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    /** A connection to the database of {@code url} (from {@link #createDatabase}), for checking what is stored. */
    public static Connection connect(String url) throws SQLException {
        PostgresUrl parsed = PostgresUrl.parse(url);
        return DriverManager.getConnection(parsed.jdbcUrl(), parsed.user(), parsed.password());
    }

    /** The server's log so far, for a failing test's message. */
    public String log() {
        try {
            return Files.readString(dir.resolve("log"));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException e) {
            // The JVM is already shutting down; the hook runs stop itself.
        }
        try {
            stop();
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                // A leftover temporary directory is not worth failing a test over.
            }
        }
    }

    private void run(List<String> command, int timeoutSeconds) {
        List<String> full = new ArrayList<>();
        if (isRoot()) {
            full.addAll(List.of("runuser", "-u", USER, "--"));
        }
        full.addAll(command);
        Path output = dir.resolve("command.out");
        try {
            // Into a file, not a pipe: pg_ctl start leaves the server running with its descriptors, and a
            // pipe would never see end of file.
            Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not finish in "
                        + timeoutSeconds + " s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " exited with " + p.exitValue() + ": "
                        + Files.readString(output) + "\n" + log());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + command.getFirst(), e);
        }
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static void handToPostgres(Path path) throws IOException {
        if (!isRoot()) {
            return;
        }
        UserPrincipalLookupService users = path.getFileSystem().getUserPrincipalLookupService();
        UserPrincipal owner = users.lookupPrincipalByName(USER);
        GroupPrincipal group = users.lookupPrincipalByGroupName(USER);
        PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
        view.setOwner(owner);
        view.setGroup(group);
    }

    /** Below the ephemeral range: while a fault test has PostgreSQL stopped, no client socket can take its port. */
    private static int freePort() {
        return FreePorts.belowEphemeralRange();
    }
}
