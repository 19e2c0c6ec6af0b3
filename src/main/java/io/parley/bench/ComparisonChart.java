package io.parley.bench;

import java.util.List;
import java.util.Locale;
import java.util.OptionalDouble;
import java.util.function.Function;

/**
 * The transport comparison as a picture: an SVG of four small bar charts, one per figure (latency,
 * requests, bytes, server CPU per delivered message), one bar per transport. Written by hand as
 * text so that it needs no library and diffs readably; each panel scales to its own largest value,
 * and every bar is labelled with its number, so small bars still read.
 *
 * <p>Stateless; one static method.
 */
final class ComparisonChart {

    private static final int WIDTH = 760;
    private static final int PANEL_WIDTH = 360;
    private static final int HEADER = 52;
    private static final int PANEL_TITLE = 26;
    private static final int ROW = 34;
    private static final int LABEL_WIDTH = 78;
    private static final int BAR_AREA = 190;
    private static final List<String> COLOURS = List.of("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f");

    private ComparisonChart() {
    }

    /** The chart of {@code reports}, one bar (two for latency) per report, with {@code subtitle} under the title. */
    static String svg(List<BenchReport> reports, String subtitle) {
        int panelHeight = PANEL_TITLE + ROW * reports.size() + 14;
        int height = HEADER + 2 * panelHeight + 8;
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\""
                        + " height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n",
                WIDTH, height, WIDTH, height));
        svg.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>%n", WIDTH, height));
        text(svg, 12, 22, "font-size=\"16\" font-weight=\"bold\"", "Parley: one workload over each transport");
        text(svg, 12, 40, "fill=\"#555555\"", subtitle);

        latencyPanel(svg, reports, 10, HEADER);
        barPanel(svg, reports, 10 + PANEL_WIDTH + 20, HEADER, "HTTP requests per delivered message",
                report -> report.serverCost().requestsPerDelivery(), "");
        barPanel(svg, reports, 10, HEADER + panelHeight, "Bytes on the wire per delivered message",
                report -> report.serverCost().bytesPerDelivery(), " B");
        barPanel(svg, reports, 10 + PANEL_WIDTH + 20, HEADER + panelHeight, "Server CPU per delivered message",
                report -> report.serverCost().cpuMicrosPerDelivery(), " µs");
        svg.append("</svg>\n");
        return svg.toString();
    }

    private static void latencyPanel(StringBuilder svg, List<BenchReport> reports, int x, int y) {
        text(svg, x, y + 16, "font-weight=\"bold\"", "Delivery latency (light: p50, dark: p99)");
        double max = reports.stream().mapToDouble(r -> percentileMillis(r, 99).orElse(0)).max().orElse(0);
        for (int i = 0; i < reports.size(); i++) {
            BenchReport report = reports.get(i);
            int rowY = y + PANEL_TITLE + i * ROW;
            label(svg, x, rowY, report.transport());
            bar(svg, x, rowY + 2, 13, percentileMillis(report, 50), max, colour(i), 0.5, " ms");
            bar(svg, x, rowY + 16, 13, percentileMillis(report, 99), max, colour(i), 1, " ms");
        }
    }

    private static void barPanel(StringBuilder svg, List<BenchReport> reports, int x, int y, String title,
                                 Function<BenchReport, OptionalDouble> figure, String unit) {
        text(svg, x, y + 16, "font-weight=\"bold\"", title);
        double max = reports.stream().mapToDouble(r -> figure.apply(r).orElse(0)).max().orElse(0);
        for (int i = 0; i < reports.size(); i++) {
            int rowY = y + PANEL_TITLE + i * ROW;
            label(svg, x, rowY, reports.get(i).transport());
            bar(svg, x, rowY + 5, 20, figure.apply(reports.get(i)), max, colour(i), 1, unit);
        }
    }

    private static void label(StringBuilder svg, int x, int rowY, String transport) {
        text(svg, x, rowY + 19, "", transport);
    }

    private static void bar(StringBuilder svg, int x, int y, int height, OptionalDouble value, double max,
                            String colour, double opacity, String unit) {
        int left = x + LABEL_WIDTH;
        if (value.isEmpty()) {
            text(svg, left + 4, y + height - 3, "fill=\"#555555\"", "n/a");
            return;
        }
        double width = max > 0 ? Math.max(1, value.getAsDouble() / max * BAR_AREA) : 1;
        svg.append(String.format(Locale.ROOT,
                "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" fill-opacity=\"%s\"/>%n",
                left, y, width, height, colour, opacity == 1 ? "1" : String.valueOf(opacity)));
        text(svg, (int) Math.ceil(left + width + 5), y + height - 3, "",
                BenchReport.significant(value.getAsDouble()) + unit);
    }

    private static OptionalDouble percentileMillis(BenchReport report, double percentile) {
        return report.latencyMicros().getTotalCount() == 0 ? OptionalDouble.empty()
                : OptionalDouble.of(report.latencyMicros().getValueAtPercentile(percentile) / 1000.0);
    }

    private static String colour(int index) {
        return COLOURS.get(index % COLOURS.size());
    }

    private static void text(StringBuilder svg, int x, int y, String attributes, String content) {
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\"%s>%s</text>%n",
                x, y, attributes.isEmpty() ? "" : " " + attributes, escape(content)));
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
