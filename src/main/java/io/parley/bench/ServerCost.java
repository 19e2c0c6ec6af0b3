package io.parley.bench;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * What a benchmark's measured window cost the server, per message the benchmark saw delivered: HTTP
 * requests, bytes on the wire, CPU time. The figures are differences of the server's own counters
 * ({@link MetricsReader}) read at the window's start and end, divided by the deliveries the benchmark
 * counted between the same two reads.
 *
 * <p>The counters are the whole server's, so the figures are only this workload's when nothing else
 * talks to the server during the run. The two reads themselves travel over HTTP too; one read's
 * requests and bytes, measured back to back before the run ({@code probeOverhead}), are taken off.
 *
 * @param unavailable   why there are no figures, or {@code null} when there are
 * @param deliveries    deliveries the benchmark counted between the two reads
 * @param window        each counter's increase between the two reads, less the probe's own traffic
 * @param probeOverhead what one read of {@code /metrics} adds to the request and byte counters
 */
public record ServerCost(String unavailable, long deliveries, Map<String, Double> window,
                         Map<String, Double> probeOverhead) {

    /** Counters that the probe's own reads move, and that are corrected for it. */
    private static final List<String> PROBE_COUNTERS =
            List.of(MetricsReader.REQUESTS, MetricsReader.BYTES_RECEIVED, MetricsReader.BYTES_SENT);

    public ServerCost {
        window = Map.copyOf(window);
        probeOverhead = Map.copyOf(probeOverhead);
    }

    public static ServerCost unavailable(String why) {
        return new ServerCost(Objects.requireNonNull(why), 0, Map.of(), Map.of());
    }

    /**
     * The cost between two reads of the counters, {@code deliveries} apart, less {@code probeOverhead}
     * for each read's own traffic.
     */
    static ServerCost between(Map<String, Double> before, Map<String, Double> after, long deliveries,
                              Map<String, Double> probeOverhead) {
        Map<String, Double> window = new HashMap<>();
        after.forEach((name, value) -> {
            Double start = before.get(name);
            if (start != null) {
                double increase = value - start;
                if (PROBE_COUNTERS.contains(name)) {
                    increase = Math.max(0, increase - probeOverhead.getOrDefault(name, 0.0));
                }
                window.put(name, increase);
            }
        });
        return new ServerCost(null, deliveries, window, probeOverhead);
    }

    /** What one read of {@code /metrics} moves the request and byte counters by: two reads back to back. */
    static Map<String, Double> overheadOfOneRead(Map<String, Double> first, Map<String, Double> second) {
        Map<String, Double> overhead = new HashMap<>();
        for (String name : PROBE_COUNTERS) {
            if (first.containsKey(name) && second.containsKey(name)) {
                overhead.put(name, Math.max(0, second.get(name) - first.get(name)));
            }
        }
        return overhead;
    }

    public boolean available() {
        return unavailable == null;
    }

    /** The counter's increase over the window, divided by the deliveries; empty when not known. */
    public OptionalDouble perDelivery(String metric) {
        Double increase = window.get(metric);
        if (!available() || increase == null || deliveries <= 0) {
            return OptionalDouble.empty();
        }
        return OptionalDouble.of(increase / deliveries);
    }

    public OptionalDouble requestsPerDelivery() {
        return perDelivery(MetricsReader.REQUESTS);
    }

    /** Bytes received plus bytes sent by the server, all sockets, per delivery. */
    public OptionalDouble bytesPerDelivery() {
        OptionalDouble in = perDelivery(MetricsReader.BYTES_RECEIVED);
        OptionalDouble out = perDelivery(MetricsReader.BYTES_SENT);
        return in.isPresent() && out.isPresent()
                ? OptionalDouble.of(in.getAsDouble() + out.getAsDouble()) : OptionalDouble.empty();
    }

    public OptionalDouble cpuMicrosPerDelivery() {
        OptionalDouble seconds = perDelivery(MetricsReader.CPU_SECONDS);
        return seconds.isPresent() ? OptionalDouble.of(seconds.getAsDouble() * 1e6) : OptionalDouble.empty();
    }

    /**
     * The mean time a batch of sends took to be stored and committed over the window, in milliseconds:
     * what every message waited before its first delivery; empty when no batch was stored.
     */
    public OptionalDouble commitMillis() {
        OptionalDouble seconds = total(MetricsReader.COMMIT_SECONDS);
        OptionalDouble batches = total(MetricsReader.COMMITS);
        return seconds.isPresent() && batches.isPresent() && batches.getAsDouble() > 0
                ? OptionalDouble.of(seconds.getAsDouble() * 1e3 / batches.getAsDouble()) : OptionalDouble.empty();
    }

    /** The counter's increase over the window; empty when not known. */
    public OptionalDouble total(String metric) {
        Double increase = window.get(metric);
        return available() && increase != null ? OptionalDouble.of(increase) : OptionalDouble.empty();
    }
}
