package io.parley.resilience;

import io.parley.client.Backoff;
import io.parley.client.ChatClient;
import io.parley.client.Transcript;
import io.parley.testing.FreePorts;
import io.parley.testing.StoredHistory;
import io.parley.testing.StoredHistory.Row;
import io.parley.testing.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server is stopped (gracefully) and a new one started on the same port and data directory while
 * people keep typing into the project's own client, {@link ChatClient}. The clients notice, reconnect
 * with backoff, catch up with {@code since} and send again what was not confirmed. When they are done,
 * every client's transcript holds every message once, in seq order, exactly as stored, and every line
 * anyone typed is stored exactly once.
 */
class RestartRecoveryTest {

    private static final int CLIENTS = 4;
    private static final Pattern MESSAGE_LINE = Pattern.compile("#(\\d+) \\[\\d\\d:\\d\\d] ([^:]+): (.*)");

    @TempDir
    Path dir;

    /** One person at a terminal: the client, what it printed, what it said about its connection. */
    private record Person(String name, ChatClient client, StringWriter transcript, StringWriter diagnostics,
                          List<String> typed) {
    }

    @Test
    void clientsReconnectAfterARestartAndEndWithEveryMessageOnceAndNothingTypedLost() throws Exception {
        // Below the ephemeral range, so no client socket can hold the port while the server is down.
        int port = FreePorts.belowEphemeralRange();
        TestServer first = TestServer.start(dir, c -> c.withPort(port));
        List<Person> people = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            String name = "p" + i;
            ChatClient client = ChatClient.join(first.chatUri(), "lobby", name,
                    new Transcript(new PrintWriter(out), ZoneOffset.UTC), new PrintWriter(err));
            people.add(new Person(name, client, out, err, new ArrayList<>()));
        }

        // Everyone types a line every 150 ms, before, during and after the restart.
        AtomicBoolean typing = new AtomicBoolean(true);
        ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
        List<Future<?>> typists = new ArrayList<>();
        for (Person p : people) {
            typists.add(threads.submit(() -> {
                for (int n = 0; typing.get(); n++) {
                    String line = p.name() + " line " + n;
                    p.typed().add(line);
                    p.client().send(line);
                    Thread.sleep(150);
                }
                return null;
            }));
        }
        // The phases are the scenario, not waits for a condition: finish() below waits for every line.
        // Before: five lines each. Down: longer than the clients' first reconnect attempts. After: lines
        // typed while the clients find the new server, and some once they have.
        Thread.sleep(750);
        first.close();
        Thread.sleep(1500);
        TestServer second = TestServer.start(dir, c -> c.withPort(port));
        Thread.sleep(1500);
        typing.set(false);
        for (Future<?> f : typists) {
            f.get();
        }
        threads.shutdown();
        // A client that found the new server late sends what was typed meanwhile only now: wait until
        // every transcript holds as many messages as were typed, before anyone stops reading.
        int typedLines = people.stream().mapToInt(p -> p.typed().size()).sum();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        for (Person p : people) {
            while (p.transcript().toString().lines().filter(l -> MESSAGE_LINE.matcher(l).matches()).count() < typedLines
                    && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
        }
        for (Person p : people) {
            p.client().finish(Duration.ofSeconds(15));
            p.client().close();
        }
        second.close();

        List<Row> stored = StoredHistory.fromFile(dir).get("lobby");
        StoredHistory.assertGapless("lobby", stored.stream().map(Row::seq).toList());
        Map<String, Long> storedTimes = stored.stream().collect(Collectors.groupingBy(Row::text, Collectors.counting()));
        Set<String> typedByAnyone = new HashSet<>();
        int typedCount = 0;
        for (Person p : people) {
            typedByAnyone.addAll(p.typed());
            typedCount += p.typed().size();
        }
        List<String> refusals = people.stream().flatMap(p -> p.transcript().toString().lines()
                .filter(l -> l.startsWith("! ")).map(l -> p.name() + " " + l)).toList();
        assertThat(storedTimes).as("lines stored more than once").allSatisfy((text, n) -> assertThat(n).isOne());
        assertThat(typedByAnyone).as("nothing stored that nobody typed").containsAll(storedTimes.keySet());

        int reconnects = 0;
        for (Person p : people) {
            List<String> lines = p.transcript().toString().lines().toList();
            List<Row> seen = new ArrayList<>();
            for (String line : lines) {
                Matcher m = MESSAGE_LINE.matcher(line);
                if (m.matches()) {
                    seen.add(new Row("lobby", Long.parseLong(m.group(1)), m.group(2), m.group(3)));
                }
            }
            assertThat(seen).extracting(r -> r.seq() + " " + r.text()).as("%s's transcript", p.name())
                    .containsExactlyElementsOf(stored.stream().map(r -> r.seq() + " " + r.text()).toList());
            String diagnostics = p.diagnostics().toString();
            assertThat(diagnostics).as("%s noticed the restart", p.name()).contains("reconnecting in");
            reconnects += (int) diagnostics.lines().filter(l -> l.contains("joined again")).count();
        }
        System.out.printf("restart: %d clients typed %d lines, %d stored, %d transcripts of %d messages checked,"
                + " %d re-joins; refusals printed: %s%n", CLIENTS, typedCount, stored.size(), CLIENTS, stored.size(),
                reconnects, refusals);
        assertThat(reconnects).as("re-joins after the restart").isGreaterThanOrEqualTo(CLIENTS);
        // A refusal that says "retry" (shutting_down, rate_limited, overloaded, store_unavailable) is not
        // the end of a line: the client must send it again, as it does after a dropped connection.
        assertThat(storedTimes.keySet()).as("every line typed is stored (the clients printed %s)", refusals)
                .containsAll(typedByAnyone);
    }

    /**
     * The same promise without a restart, and without timing luck: a connection allowed one message a
     * second (bursts of two) gets five lines at once. Three are refused with {@code rate_limited} and a
     * {@code retryAfter}; the client must send them again then, not drop them, and in the order they
     * were typed: a person's lines do not change places.
     */
    @Test
    void linesRefusedForTheirRateAreSentAgainLaterInTheOrderTyped() throws Exception {
        try (TestServer server = TestServer.start(dir, c -> c.withAdmission(c.admission().withRates(1, 0, 0)))) {
            StringWriter out = new StringWriter();
            ChatClient client = ChatClient.join(server.chatUri(), "lobby", "quick",
                    new Transcript(new PrintWriter(out), ZoneOffset.UTC), new PrintWriter(new StringWriter()));
            for (int i = 1; i <= 5; i++) {
                client.send("line " + i);
            }
            client.finish(Duration.ofSeconds(10));
            client.close();
            List<String> stored = StoredHistory.viaProtocol(server.chatUri(), "lobby").stream()
                    .map(m -> m.get("text").asText()).toList();
            assertThat(stored).as("stored; the client printed:%n%s", out).containsExactly(
                    "line 1", "line 2", "line 3", "line 4", "line 5");
        }
    }

    /**
     * Many clients dropped by one restart must not come back in the same instant: the delays grow
     * exponentially up to a cap, and each is drawn at random within its step.
     */
    @Test
    void reconnectDelaysDoubleUpToTheirCapWithRandomJitter() {
        Duration initial = Duration.ofMillis(100);
        Duration max = Duration.ofMillis(1600);
        List<Set<Long>> drawsPerAttempt = new ArrayList<>();
        for (int attempt = 0; attempt < 8; attempt++) {
            drawsPerAttempt.add(new HashSet<>());
        }
        for (int client = 0; client < 200; client++) {
            Backoff backoff = new Backoff(initial, max);
            for (int attempt = 0; attempt < 8; attempt++) {
                long step = Math.min(max.toMillis(), initial.toMillis() << attempt);
                long delay = backoff.next().toMillis();
                assertThat(delay).as("attempt %d", attempt + 1).isBetween(step / 2, step);
                drawsPerAttempt.get(attempt).add(delay);
            }
            backoff.reset();
            assertThat(backoff.next().toMillis()).as("first delay after a reset").isBetween(50L, 100L);
        }
        assertThat(drawsPerAttempt).as("distinct delays drawn per attempt by 200 clients")
                .allSatisfy(draws -> assertThat(draws.size()).isGreaterThan(10));
    }
}
