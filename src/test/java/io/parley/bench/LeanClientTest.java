package io.parley.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.parley.testing.TestServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lean WebSocket client in whole benchmark runs: against a real Parley server it counts every
 * delivery at every member, and against the echo server told to lose a message it reports the loss,
 * in the total, in the members' counts and as a seq gap at every member. The JDK client sees the same
 * loss, which checks the echo server independently of the lean client.
 */
class LeanClientTest {

    private static final int SUBSCRIBERS = 20;
    private static final int PUBLISHERS = 2;
    private static final int MEMBERS = SUBSCRIBERS + PUBLISHERS;
    /**
     * Long enough for every delivery that will come on a slow, busy machine. The JDK client waits all of
     * it when a message is lost; the lean one stops once the gaps account for what is missing.
     */
    private static final Duration LOSS_DRAIN = Duration.ofSeconds(10);

    @TempDir
    Path dataDir;

    @Test
    void countsEveryDeliveryAtEveryMemberOfARealServer() throws Exception {
        try (TestServer server = TestServer.start(dataDir, c -> {
                 var unthrottled = TestServer.UNTHROTTLED.apply(c);
                 return unthrottled.withAdmission(unthrottled.admission()
                         .withConnections(unthrottled.admission().maxConnections(), 10_000));
             });
             BenchTransport lean = new LeanWebSocketTransport(server.chatUri(), null)) {
            BenchReport report = run(server.chatUri(), lean);

            assertThat(report.passed()).as(printed(report)).isTrue();
            assertThat(report.membersJoined()).isEqualTo(MEMBERS);
            assertThat(report.sent()).isEqualTo(600);
            assertThat(report.acked()).isEqualTo(600);
            assertThat(report.delivered()).isEqualTo(600L * MEMBERS);
            assertThat(report.memberCheck()).isEqualTo(new BenchReport.MemberCheck(MEMBERS, 0, 0, 600, 600));
            assertThat(report.latencyMicros().getTotalCount()).isPositive();
        }
    }

    @Test
    void reportsAMessageTheServerAckedButDeliveredToNobody() throws Exception {
        try (EchoServer echo = EchoServer.start(new InetSocketAddress("127.0.0.1", 0), Duration.ofMillis(2), 100);
             BenchTransport lean = new LeanWebSocketTransport(uri(echo), null)) {
            BenchReport report = run(uri(echo), lean, LOSS_DRAIN);

            String printed = printed(report);
            assertThat(report.passed()).as(printed).isFalse();
            assertThat(report.acked()).as(printed).isEqualTo(600);
            assertThat(report.lost()).as(printed).isEqualTo(MEMBERS);
            assertThat(report.memberCheck()).as(printed).isEqualTo(new BenchReport.MemberCheck(MEMBERS, MEMBERS, 0, 599, 599));
            assertThat(printed).contains("22 seqs missing at members").contains("seq 102 where 101 was due");
        }
    }

    @Test
    void theJdkClientSeesTheSameLossInItsTotal() throws Exception {
        try (EchoServer echo = EchoServer.start(new InetSocketAddress("127.0.0.1", 0), Duration.ofMillis(2), 100);
             BenchTransport jdk = new WebSocketTransport(uri(echo))) {
            BenchReport report = run(uri(echo), jdk, LOSS_DRAIN);

            assertThat(report.passed()).as(printed(report)).isFalse();
            assertThat(report.lost()).as(printed(report)).isEqualTo(MEMBERS);
            assertThat(report.memberCheck().members()).isZero();
        }
    }

    @Test
    void deliversEverythingTheEchoServerSends() throws Exception {
        try (EchoServer echo = EchoServer.start(new InetSocketAddress("127.0.0.1", 0), Duration.ofMillis(2), -1);
             BenchTransport lean = new LeanWebSocketTransport(uri(echo), null)) {
            BenchReport report = run(uri(echo), lean);

            assertThat(report.passed()).as(printed(report)).isTrue();
            assertThat(report.memberCheck()).isEqualTo(new BenchReport.MemberCheck(MEMBERS, 0, 0, 600, 600));
        }
    }

    private static BenchReport run(URI url, BenchTransport transport) throws InterruptedException {
        return run(url, transport, Duration.ofSeconds(10));
    }

    /** {@code drain}: how long to wait for deliveries; a run that lost some waits all of it. */
    private static BenchReport run(URI url, BenchTransport transport, Duration drain) throws InterruptedException {
        BenchParameters parameters = new BenchParameters(List.of(url), "bench", SUBSCRIBERS, PUBLISHERS, 200,
                Duration.ofSeconds(1), Duration.ofSeconds(2), drain, 100, 500);
        return BenchRun.run(parameters, transport, null, new PrintWriter(new StringWriter()));
    }

    private static URI uri(EchoServer echo) {
        return URI.create("ws://127.0.0.1:" + echo.port() + "/chat");
    }

    private static String printed(BenchReport report) {
        StringWriter out = new StringWriter();
        report.print(new PrintWriter(out));
        return out.toString();
    }
}
