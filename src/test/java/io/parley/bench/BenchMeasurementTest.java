package io.parley.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The parts of the transport comparison that need no server: reading Prometheus text, turning
 * counters into a cost per delivery, and writing the results into a document.
 */
class BenchMeasurementTest {

    @TempDir
    Path dir;

    @Test
    void sumsEverySeriesOfAMetricWhateverItsLabels() {
        String exposition = """
                # HELP parley_bytes_sent_total Bytes written to sockets
                # TYPE parley_bytes_sent_total counter
                parley_bytes_sent_total{transport="http",} 1200.0
                parley_bytes_sent_total{transport="websocket",note="a } in \\"quotes\\""} 34.5
                process_cpu_time_seconds_total 2.5
                parley_connections{transport="websocket",} NaN
                jvm_info{version="25"} 1 1700000000000
                """;

        Map<String, Double> sums = MetricsReader.parse(exposition);

        assertThat(sums).containsEntry("parley_bytes_sent_total", 1234.5)
                .containsEntry("process_cpu_time_seconds_total", 2.5)
                .containsEntry("jvm_info", 1.0)
                .doesNotContainKey("parley_connections");
    }

    @Test
    void costIsTheCountersIncreasePerDeliveryLessTheProbesOwnTraffic() {
        Map<String, Double> overhead = ServerCost.overheadOfOneRead(
                Map.of(MetricsReader.REQUESTS, 10.0, MetricsReader.BYTES_SENT, 1_000.0,
                        MetricsReader.BYTES_RECEIVED, 100.0),
                Map.of(MetricsReader.REQUESTS, 11.0, MetricsReader.BYTES_SENT, 6_000.0,
                        MetricsReader.BYTES_RECEIVED, 200.0));
        Map<String, Double> before = Map.of(MetricsReader.REQUESTS, 20.0, MetricsReader.BYTES_SENT, 10_000.0,
                MetricsReader.BYTES_RECEIVED, 1_000.0, MetricsReader.CPU_SECONDS, 3.0, MetricsReader.DELIVERIES, 50.0);
        Map<String, Double> after = Map.of(MetricsReader.REQUESTS, 121.0, MetricsReader.BYTES_SENT, 215_000.0,
                MetricsReader.BYTES_RECEIVED, 51_100.0, MetricsReader.CPU_SECONDS, 3.2,
                MetricsReader.DELIVERIES, 1_050.0);

        ServerCost cost = ServerCost.between(before, after, 1_000, overhead);

        assertThat(cost.requestsPerDelivery()).hasValue(0.1);
        assertThat(cost.perDelivery(MetricsReader.BYTES_SENT)).hasValue(200.0);
        assertThat(cost.bytesPerDelivery()).hasValue(250.0);
        assertThat(cost.cpuMicrosPerDelivery().getAsDouble()).isCloseTo(200.0, within(1e-6));
        assertThat(cost.total(MetricsReader.DELIVERIES)).hasValue(1_000.0);
        assertThat(cost.commitMillis()).as("no commit counters, no commit figure").isEmpty();
    }

    @Test
    void theCommitFigureIsTheWindowsCommitTimeOverItsBatches() {
        ServerCost cost = ServerCost.between(
                Map.of(MetricsReader.COMMIT_SECONDS, 1.0, MetricsReader.COMMITS, 100.0),
                Map.of(MetricsReader.COMMIT_SECONDS, 1.05, MetricsReader.COMMITS, 300.0), 1_000, Map.of());

        assertThat(cost.commitMillis().getAsDouble()).as("50 ms over 200 batches").isCloseTo(0.25, within(1e-9));
        assertThat(ServerCost.between(Map.of(MetricsReader.COMMIT_SECONDS, 1.0, MetricsReader.COMMITS, 100.0),
                Map.of(MetricsReader.COMMIT_SECONDS, 1.0, MetricsReader.COMMITS, 100.0), 0, Map.of()).commitMillis())
                .as("no batch in the window").isEmpty();
    }

    @Test
    void costWithoutCountersSaysWhyAndHasNoFigures() {
        ServerCost cost = ServerCost.unavailable("http://127.0.0.1:1/metrics answered HTTP 404");

        assertThat(cost.available()).isFalse();
        assertThat(cost.requestsPerDelivery()).isEmpty();
        assertThat(cost.bytesPerDelivery()).isEmpty();
        assertThat(cost.cpuMicrosPerDelivery()).isEmpty();
    }

    @Test
    void readingAServerWithoutMetricsFailsWithItsStatus() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            exchange.sendResponseHeaders(404, -1);
            exchange.close();
        });
        server.start();
        URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/metrics");
        try (MetricsReader metrics = new MetricsReader(uri)) {
            assertThatThrownBy(metrics::read).isInstanceOf(IOException.class).hasMessageContaining("HTTP 404");
        } finally {
            server.stop(0);
        }
    }

    @Test
    void httpAddressesFollowTheWebSocketAddress() {
        assertThat(new ServerAddress(URI.create("ws://127.0.0.1:8080/chat")).metrics())
                .isEqualTo(URI.create("http://127.0.0.1:8080/metrics"));
        assertThat(new ServerAddress(URI.create("wss://chat.example/parley/chat")).http("api/rooms/a/messages"))
                .isEqualTo(URI.create("https://chat.example/parley/api/rooms/a/messages"));
        assertThat(new ServerAddress(URI.create("ws://[::1]:9000")).metrics())
                .isEqualTo(URI.create("http://[::1]:9000/metrics"));
    }

    @Test
    void transportNamesAreParsedInOrderOnceAndAllMeansEvery() {
        assertThat(TransportKind.parse(List.of("poll", "WebSocket", "poll")))
                .containsExactly(TransportKind.POLL, TransportKind.WEBSOCKET);
        assertThat(TransportKind.parse(List.of("all")))
                .containsExactly(TransportKind.WEBSOCKET, TransportKind.LONGPOLL, TransportKind.POLL);
        assertThatThrownBy(() -> TransportKind.parse(List.of("carrier-pigeon")))
                .hasMessageContaining("websocket, longpoll, poll or all");
    }

    @Test
    void comparisonReplacesOnlyTheTextBetweenTheMarkersAndWritesTheChartNextToIt() throws IOException {
        Path document = dir.resolve("BENCHMARKS.md");
        Files.writeString(document, "# Benchmarks\n\nBefore.\n\n" + TransportComparison.START + "\nold table\n"
                + TransportComparison.END + "\n\nAfter.\n");

        comparison().writeInto(document);

        String text = Files.readString(document);
        assertThat(text).startsWith("# Benchmarks\n\nBefore.\n\n" + TransportComparison.START)
                .endsWith(TransportComparison.END + "\n\nAfter.\n")
                .doesNotContain("old table")
                .contains("java -jar target/parley.jar bench --transport websocket,poll")
                .contains("| websocket | 1,000 | 0 | 2 ms | 4 ms | 0.001 | 250 B | 3.5 µs |")
                .contains("| poll | 1,000 | 0 | 500 ms | 1,000 ms | n/a | n/a | n/a |")
                .contains("](" + TransportComparison.CHART_FILE + ")");
        String chart = Files.readString(dir.resolve(TransportComparison.CHART_FILE), StandardCharsets.UTF_8);
        assertThat(chart).startsWith("<svg").endsWith("</svg>\n").contains(">websocket<").contains(">poll<")
                .contains(">3.5 µs<").contains(">n/a<");
    }

    @Test
    void comparisonIsAppendedToADocumentWithoutMarkers() throws IOException {
        Path document = dir.resolve("notes.md");
        Files.writeString(document, "# Notes");

        comparison().writeInto(document);
        comparison().writeInto(document);

        String text = Files.readString(document);
        assertThat(text).startsWith("# Notes\n\n" + TransportComparison.START).endsWith(TransportComparison.END + "\n");
        assertThat(text.split(TransportComparison.START, -1)).hasSize(2);
    }

    private static TransportComparison comparison() {
        ServerCost measured = ServerCost.between(
                Map.of(MetricsReader.REQUESTS, 0.0, MetricsReader.BYTES_SENT, 0.0, MetricsReader.BYTES_RECEIVED, 0.0,
                        MetricsReader.CPU_SECONDS, 0.0),
                Map.of(MetricsReader.REQUESTS, 1.0, MetricsReader.BYTES_SENT, 200_000.0,
                        MetricsReader.BYTES_RECEIVED, 50_000.0, MetricsReader.CPU_SECONDS, 0.0035),
                1_000, Map.of());
        return new TransportComparison(List.of(report("websocket", 2_000, 4_000, measured),
                report("poll", 500_000, 1_000_000, ServerCost.unavailable("not read"))),
                "java -jar target/parley.jar bench --transport websocket,poll", LocalDate.of(2026, 11, 22));
    }

    private static BenchReport report(String transport, long p50Micros, long p99Micros, ServerCost cost) {
        BenchParameters parameters = new BenchParameters(List.of(URI.create("ws://127.0.0.1:1/chat")), "bench", 9, 1, 100,
                Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(2), 100, 500);
        Histogram latency = new Histogram(3);
        latency.recordValueWithCount(p50Micros, 60);
        latency.recordValueWithCount(p99Micros, 40);
        return new BenchReport(parameters, transport, 9, 1, 0, 0, List.of(), 100, 100, Map.of(), 1_000, 1_000,
                latency, cost, BenchReport.MemberCheck.NONE, OptionalDouble.empty(), List.of(), 100);
    }
}
