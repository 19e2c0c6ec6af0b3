package io.parley.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;

/**
 * The same workload run over several transports, side by side: a Markdown table (also what
 * {@code parley bench} prints at the end of such a run) and, for the documentation, that table and
 * a chart ({@link ComparisonChart}) written into a Markdown file between two marker comments.
 *
 * <p>Only the text between the markers is replaced, so the document around it stays hand-written;
 * a file without the markers gets them, with the results, appended at its end. The chart goes next
 * to the document as {@value #CHART_FILE}, and the document links it by that relative name.
 */
public final class TransportComparison {

    public static final String START = "<!-- bench:transports:start -->";
    public static final String END = "<!-- bench:transports:end -->";
    public static final String CHART_FILE = "bench-transports.svg";

    private final List<BenchReport> reports;
    private final String command;
    private final LocalDate date;

    /**
     * @param reports one per transport, in the order they ran, all of the same parameters
     * @param command the command line that produced them, as a person would type it again
     */
    public TransportComparison(List<BenchReport> reports, String command, LocalDate date) {
        if (reports.isEmpty()) {
            throw new IllegalArgumentException("nothing to compare");
        }
        this.reports = List.copyOf(reports);
        this.command = command;
        this.date = date;
    }

    /** One row per transport: deliveries, losses, latency and the server's cost per delivery. */
    public String table() {
        StringBuilder table = new StringBuilder()
                .append("| transport | delivered | lost | latency p50 | latency p99 | HTTP requests / delivery"
                        + " | bytes on the wire / delivery | server CPU / delivery |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (BenchReport report : reports) {
            ServerCost cost = report.serverCost();
            table.append(String.format(Locale.ROOT, "| %s | %,d | %,d | %s | %s | %s | %s | %s |%n",
                    report.transport(), report.delivered(), report.lost(),
                    latency(report, 50), latency(report, 99),
                    cell(cost.requestsPerDelivery(), ""), cell(cost.bytesPerDelivery(), " B"),
                    cell(cost.cpuMicrosPerDelivery(), " µs")));
        }
        return table.toString();
    }

    /** What the runs did, in one line: members, rate, size, window. */
    public String workload() {
        BenchParameters p = reports.getFirst().parameters();
        return String.format(Locale.ROOT, "%d members (%d subscribers, %d publisher%s) in one room, %d msg/s of %d B,"
                        + " %d s measured after %d s warm-up, per transport",
                p.members(), p.subscribers(), p.publishers(), p.publishers() == 1 ? "" : "s", p.rate(), p.size(),
                p.duration().toSeconds(), p.warmup().toSeconds());
    }

    /** The Markdown that goes between the markers. */
    String section() {
        String unavailable = reports.stream().map(BenchReport::serverCost).filter(cost -> !cost.available())
                .map(ServerCost::unavailable).findFirst()
                .map(why -> "\nServer figures n/a: " + why + ".\n").orElse("");
        return "<!-- Written by parley bench --write-docs; edit outside the markers. -->\n\n"
                + "Measured " + date + " with:\n\n```sh\n" + command + "\n```\n\n"
                + workload() + ", one transport after the other against one server.\n\n"
                + table()
                + "\nLatency is from the publisher's send to each member's receipt. Requests, bytes and CPU are the"
                + " server's own counters (`/metrics`) over the measured window, divided by the deliveries the"
                + " bench counted in the same window; bytes are received plus sent, on every socket, headers"
                + " included. They are whole-server counters: the bench was the server's only client.\n"
                + unavailable
                + "\n![Latency, requests, bytes and server CPU per delivered message, by transport](" + CHART_FILE
                + ")\n";
    }

    /** The chart, as SVG text. */
    String chart() {
        return ComparisonChart.svg(reports, workload());
    }

    /** Puts the results into {@code document} between the markers, and the chart next to it. */
    public void writeInto(Path document) throws IOException {
        String block = START + "\n" + section() + END;
        String text = Files.exists(document) ? Files.readString(document, StandardCharsets.UTF_8) : "";
        int start = text.indexOf(START);
        int end = text.indexOf(END);
        String updated;
        if (start >= 0 && end > start) {
            updated = text.substring(0, start) + block + text.substring(end + END.length());
        } else {
            updated = text + (text.isEmpty() || text.endsWith("\n") ? "" : "\n") + "\n" + block + "\n";
        }
        Path chart = document.toAbsolutePath().resolveSibling(CHART_FILE);
        Files.writeString(chart, chart(), StandardCharsets.UTF_8);
        Files.writeString(document, updated, StandardCharsets.UTF_8);
    }

    private static String latency(BenchReport report, double percentile) {
        if (report.latencyMicros().getTotalCount() == 0) {
            return "n/a";
        }
        return BenchReport.significant(report.latencyMicros().getValueAtPercentile(percentile) / 1000.0) + " ms";
    }

    private static String cell(OptionalDouble value, String unit) {
        return value.isPresent() ? BenchReport.significant(value.getAsDouble()) + unit : "n/a";
    }
}
