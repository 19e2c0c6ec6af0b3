package io.parley.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.parley.testing.TestServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code parley bench} against a real server: a short run, the report it prints, its exit code. */
class BenchCommandTest {

    @TempDir
    Path dataDir;

    @Test
    void shortRunDeliversEveryMessageToEveryMemberAndReportsIt() throws Exception {
        try (TestServer server = TestServer.start(dataDir, TestServer.UNTHROTTLED)) {
            StringWriter out = new StringWriter();
            StringWriter progress = new StringWriter();

            int exit = ParleyCommand.commandLine()
                    .setOut(new PrintWriter(out))
                    .setErr(new PrintWriter(progress))
                    .execute("bench", "--url", server.chatUri().toString(), "--subscribers", "20",
                            "--publishers", "2", "--rate", "200", "--duration", "2", "--warmup", "1",
                            "--drain", "10");

            String report = out.toString();
            assertThat(exit).as(report + progress).isZero();
            assertThat(report).contains("sent 600, acked 600, rejected 0")
                    .contains("expected 13200 (600 taken x 22 members")
                    .contains("delivered 13200, lost 0")
                    .contains("result       PASS");
            assertThat(number(report, "p99 ([0-9.]+) ms")).isPositive();
            assertThat(number(report, "throughput +([0-9]+) deliveries/s")).isPositive();
            assertThat(report).contains("parley bench over websocket\n")
                    .contains("22 members checked every seq: 0 missing, 0 out of order;"
                            + " each counted 600 to 600 deliveries (600 due)");
        }
    }

    @Test
    void joinsOnlyTimesTheJoinsAndCountsThePresenceFramesTheyCost() throws Exception {
        try (TestServer server = TestServer.start(dataDir, TestServer.UNTHROTTLED)) {
            StringWriter out = new StringWriter();
            StringWriter progress = new StringWriter();

            int exit = ParleyCommand.commandLine()
                    .setOut(new PrintWriter(out))
                    .setErr(new PrintWriter(progress))
                    .execute("bench", "--url", server.chatUri().toString(), "--joins-only", "--subscribers", "10",
                            "--connect-rate", "1000", "--joins-warmup", "20", "--source-addresses", "3");

            String report = out.toString();
            assertThat(exit).as(report + progress).isZero();
            assertThat(report).contains("joins: 10 of 10 members joined one room in").contains("(0 failed)")
                    .contains("client warm-up: 20 members joined and left another room first, not timed")
                    .containsPattern("CPU over the timed joins: server [0-9.]+ s \\([0-9]+ µs per member\\), "
                            + "load generator [0-9.]+ s \\([0-9]+ µs per member\\)");
            // Each member hears at least its own join named, and at most every join after its own.
            assertThat(number(report, "([0-9]+) after settling")).as(report).isBetween(10.0, 55.0);
        }
    }

    @Test
    void sourceAddressesGoOnlyWithJoinsOnlyAndTheLeanClient() {
        StringWriter err = new StringWriter();
        int exit = ParleyCommand.commandLine().setErr(new PrintWriter(err))
                .execute("bench", "--url", "ws://127.0.0.1:1/chat", "--source-addresses", "3");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--source-addresses goes with --joins-only and the lean client");
    }

    @Test
    void theJdkClientMeasuresTheSameRunAsASecondCheck() throws Exception {
        try (TestServer server = TestServer.start(dataDir, TestServer.UNTHROTTLED)) {
            StringWriter out = new StringWriter();
            StringWriter progress = new StringWriter();

            int exit = ParleyCommand.commandLine()
                    .setOut(new PrintWriter(out))
                    .setErr(new PrintWriter(progress))
                    .execute("bench", "--url", server.chatUri().toString(), "--client", "jdk", "--subscribers", "5",
                            "--rate", "100", "--duration", "1", "--warmup", "1", "--drain", "10");

            String report = out.toString();
            assertThat(exit).as(report + progress).isZero();
            assertThat(report).contains("parley bench over websocket (jdk client)")
                    .contains("delivered 1200, lost 0")
                    .doesNotContain("members checked every seq");
        }
    }

    @Test
    void refusesAClientItDoesNotHaveAndTlsForTheLeanOne() {
        StringWriter err = new StringWriter();
        int unknown = ParleyCommand.commandLine().setOut(new PrintWriter(new StringWriter()))
                .setErr(new PrintWriter(err))
                .execute("bench", "--client", "curl");
        int tls = ParleyCommand.commandLine().setOut(new PrintWriter(new StringWriter()))
                .setErr(new PrintWriter(err))
                .execute("bench", "--url", "wss://127.0.0.1:1/chat");

        assertThat(unknown).isEqualTo(2);
        assertThat(tls).isEqualTo(2);
        assertThat(err.toString()).contains("--client takes lean or jdk, was curl")
                .contains("the lean client speaks ws:// only; use --client jdk for wss://127.0.0.1:1/chat");
    }

    /**
     * A default server limits each connection to 10 sends a second: a bench at 100/s from one publisher
     * has most of its sends refused with rate_limited. Those were never stored, so nobody lost them;
     * the report must say so and name the flag, not count them as lost deliveries.
     */
    @Test
    void sendsRefusedByRateLimitsAreReportedAsRefusedNotLost() throws Exception {
        try (TestServer server = TestServer.start(dataDir)) {
            StringWriter out = new StringWriter();

            int exit = ParleyCommand.commandLine()
                    .setOut(new PrintWriter(out))
                    .setErr(new PrintWriter(new StringWriter()))
                    .execute("bench", "--url", server.chatUri().toString(), "--subscribers", "3",
                            "--publishers", "1", "--rate", "100", "--duration", "2", "--warmup", "0",
                            "--drain", "10");

            String report = out.toString();
            assertThat(exit).as(report).isEqualTo(1);
            assertThat(number(report, "rejected ([0-9]+) \\{rate_limited=")).as(report).isPositive();
            assertThat(report).contains(", lost 0").doesNotContain("deliveries lost")
                    .contains("sends refused by the server {rate_limited=")
                    .contains("not lost: its rate limits; start it with --no-rate-limits");
        }
    }

    @Test
    void failsWhenNobodyCanConnect() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        StringWriter out = new StringWriter();

        int exit = ParleyCommand.commandLine()
                .setOut(new PrintWriter(out))
                .setErr(new PrintWriter(new StringWriter()))
                .execute("bench", "--url", "ws://127.0.0.1:" + closedPort + "/chat", "--subscribers", "2",
                        "--duration", "1", "--warmup", "0", "--drain", "0");

        assertThat(exit).isEqualTo(1);
        assertThat(out.toString()).contains("3 failed").contains("connection refused").contains("FAIL");
    }

    private static double number(String text, String regex) {
        Matcher matcher = Pattern.compile(regex).matcher(text);
        assertThat(matcher.find()).as("'" + regex + "' in:\n" + text).isTrue();
        return Double.parseDouble(matcher.group(1));
    }
}
