package io.parley.testing;

import io.parley.cli.ParleyCommand;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * {@code parley serve} as an operator runs it: a child JVM on this test's class path, its own pid,
 * its output in a log file. For what an in-process server cannot show, such as the process being
 * killed with SIGKILL.
 */
public final class ServeProcess implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    /**
     * Every child started and not yet known to be gone: killed when the test JVM exits, so that a test
     * that fails half-way through starting its nodes leaves no server running after the suite.
     */
    private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Process::destroyForcibly),
                "serve-process-reaper"));
    }

    private final Process process;
    private final int port;
    private final Path log;

    private ServeProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /** Starts {@code parley serve} on a free port with its data in {@code dataDir}; returns once it is healthy. */
    public static ServeProcess start(Path dataDir, Path log, String... extraArgs) throws Exception {
        // Bound only once the child JVM has started, seconds later on a loaded machine.
        return start(FreePorts.belowEphemeralRange(), dataDir, log, extraArgs);
    }

    /** As {@link #start(Path, Path, String...)} on {@code port}: a node restarted where it was. */
    public static ServeProcess start(int port, Path dataDir, Path log, String... extraArgs) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ParleyCommand.class.getName(), "serve",
                "--port", String.valueOf(port), "--data-dir", dataDir.toString()));
        command.addAll(List.of(extraArgs));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        RUNNING.add(process);
        ServeProcess serve = new ServeProcess(process, port, log);
        serve.awaitHealthy();
        return serve;
    }

    private void awaitHealthy() throws Exception {
        URI health = URI.create("http://127.0.0.1:" + port + "/healthz");
        try (HttpClient http = HttpClient.newHttpClient()) {
            if (becomesHealthy(http, health, process, START_TIMEOUT)) {
                return;
            }
        }
        process.destroyForcibly();
        throw new IllegalStateException("parley serve did not become healthy; its log:\n" + log());
    }

    /**
     * Polls {@code health} through {@code http} until it answers 200: true then, false once
     * {@code server}, a starting server process, has ended or {@code timeout} has passed.
     */
    public static boolean becomesHealthy(HttpClient http, URI health, Process server, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline && server.isAlive()) {
            try {
                if (http.send(HttpRequest.newBuilder(health).build(), HttpResponse.BodyHandlers.discarding())
                        .statusCode() == 200) {
                    return true;
                }
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        return false;
    }

    public int port() {
        return port;
    }

    public long pid() {
        return process.pid();
    }

    public URI chatUri() {
        return URI.create("ws://127.0.0.1:" + port + "/chat");
    }

    /**
     * Kills the process with SIGKILL: no shutdown hook, no flush, no goodbye. Returns its exit status
     * (137 = 128 + SIGKILL on Linux).
     */
    public int kill9() throws InterruptedException {
        ProcessHandle.of(process.pid()).ifPresent(ProcessHandle::destroyForcibly);
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("process " + process.pid() + " survived SIGKILL");
        }
        return process.exitValue();
    }

    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() {
        process.destroyForcibly();
        RUNNING.remove(process);
    }
}
