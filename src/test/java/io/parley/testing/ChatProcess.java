package io.parley.testing;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A {@code parley chat} child process, however it was started (a JVM on the test class path, the release
 * archive's launcher): its standard input is typed into, its standard output read line by line as it
 * comes, on a daemon thread of its own.
 */
public final class ChatProcess {

    /** A bound on waits that include a child JVM's start, which takes several seconds on a loaded machine. */
    private static final long TIMEOUT_SECONDS = 30;

    private final Process process;
    private final Writer stdin;
    private final BlockingQueue<String> stdout = new LinkedBlockingQueue<>();
    private final Thread reader;

    public ChatProcess(Process process) {
        this.process = process;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        this.reader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader lines = process.inputReader(StandardCharsets.UTF_8)) {
                for (String line; (line = lines.readLine()) != null; ) {
                    stdout.add(line);
                }
            } catch (IOException e) {
                // The process ended; the test's own timeouts report what is missing.
            }
        });
    }

    public void type(String line) throws IOException {
        stdin.write(line + "\n");
        stdin.flush();
    }

    public String nextLineContaining(String text) throws InterruptedException {
        return linesUntil(text).getLast();
    }

    /** Every line up to and including the first that contains {@code text}. */
    public List<String> linesUntil(String text) throws InterruptedException {
        List<String> lines = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (System.nanoTime() < deadline) {
            String line = stdout.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            if (line == null) {
                break;
            }
            lines.add(line);
            if (line.contains(text)) {
                return lines;
            }
        }
        throw new AssertionError("no line containing '" + text + "' within " + TIMEOUT_SECONDS
                + " s; got " + lines);
    }

    public int endInputAndWait() throws IOException, InterruptedException {
        stdin.close();
        assertThat(process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)).as("chat exited").isTrue();
        return process.exitValue();
    }

    /** After the process has ended: every line not taken yet. */
    public List<String> remainingLines() throws InterruptedException {
        reader.join(TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
        List<String> lines = new ArrayList<>();
        stdout.drainTo(lines);
        return lines;
    }

    public long pid() {
        return process.pid();
    }

    public void kill() {
        process.destroyForcibly();
    }

    /**
     * Whether {@code watcher}, a member of the room, sees {@code name} join within {@code wait}; false
     * as soon as this process ends without that.
     */
    public boolean joinedAsSeenBy(WsClient watcher, String name, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode m = watcher.next(Duration.ofMillis(100));
            if (m != null && m.path("type").asText().equals("presence") && m.path("joined").toString().contains(name)) {
                return true;
            }
            if (m == null && !process.isAlive()) {
                return false;
            }
        }
        return false;
    }
}
