package io.parley.bench;

import io.parley.client.ParleyConnection;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The server's own counters, read from its {@code GET /metrics} (Prometheus text format) so that a
 * benchmark can say what its workload cost the server: requests, bytes on the wire, CPU time.
 *
 * <p>The parse is deliberately simple: for each metric name, the sum of all its series whatever
 * their labels (bytes sent over HTTP and over WebSocket are one figure here). Comment lines, and
 * values that are not numbers ({@code NaN}), are skipped. A run spread over several nodes reads every
 * node's counters and adds them up: what the cluster as a whole spent, whichever node did the work.
 *
 * <p>Threads: {@link #read} blocks its caller for at most {@link #TIMEOUT}; any thread may call it.
 */
public final class MetricsReader implements AutoCloseable {

    public static final String REQUESTS = "parley_http_requests_total";
    public static final String BYTES_RECEIVED = "parley_bytes_received_total";
    public static final String BYTES_SENT = "parley_bytes_sent_total";
    public static final String DELIVERIES = "parley_deliveries_total";
    public static final String CPU_SECONDS = "process_cpu_time_seconds_total";
    /** Time spent writing batches of sends to the store, and how many batches: the commit before delivery. */
    public static final String COMMIT_SECONDS = "parley_store_commit_seconds_sum";
    public static final String COMMITS = "parley_store_commit_seconds_count";

    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    private final List<URI> uris;
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(TIMEOUT)
            .build();

    /** Counters at {@code uri}, the server's {@code /metrics}. */
    public MetricsReader(URI uri) {
        this(List.of(uri));
    }

    /** Counters at each of {@code uris}, the nodes' {@code /metrics}, added up. */
    public MetricsReader(List<URI> uris) {
        if (uris.isEmpty()) {
            throw new IllegalArgumentException("no /metrics to read");
        }
        this.uris = List.copyOf(uris);
    }

    /**
     * The counters now, each metric summed over its labels and over the nodes. The nodes are read one
     * after the other; if any cannot be read, there is no sum.
     */
    public Map<String, Double> read() throws IOException, InterruptedException {
        Map<String, Double> sums = new HashMap<>();
        for (URI uri : uris) {
            readOne(uri).forEach((name, value) -> sums.merge(name, value, Double::sum));
        }
        return sums;
    }

    private Map<String, Double> readOne(URI uri) throws IOException, InterruptedException {
        HttpResponse<String> response;
        try {
            response = http.send(HttpRequest.newBuilder(uri).timeout(TIMEOUT).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IOException(uri + ": " + ParleyConnection.describe(e), e);
        }
        if (response.statusCode() != 200) {
            throw new IOException(uri + " answered HTTP " + response.statusCode() + (response.statusCode() == 403
                    ? ": start the server with --metrics-from naming this machine's network" : ""));
        }
        return parse(response.body());
    }

    /** Sums of every metric in a Prometheus text exposition, by metric name. */
    static Map<String, Double> parse(String exposition) {
        Map<String, Double> sums = new HashMap<>();
        for (String line : exposition.split("\n")) {
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int nameEnd = 0;
            while (nameEnd < line.length() && line.charAt(nameEnd) != '{'
                    && !Character.isWhitespace(line.charAt(nameEnd))) {
                nameEnd++;
            }
            boolean labelled = nameEnd < line.length() && line.charAt(nameEnd) == '{';
            int valueStart = labelled ? labelsEnd(line, nameEnd) : nameEnd;
            if (valueStart < 0) {
                continue;
            }
            String[] rest = line.substring(valueStart).strip().split("\\s+");
            double value;
            try {
                value = Double.parseDouble(rest[0]);
            } catch (NumberFormatException e) {
                continue;
            }
            if (!Double.isNaN(value)) {
                sums.merge(line.substring(0, nameEnd), value, Double::sum);
            }
        }
        return sums;
    }

    /** The index just after the closing brace of the labels opened at {@code open}; -1 if none. */
    private static int labelsEnd(String line, int open) {
        boolean quoted = false;
        for (int i = open + 1; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted && c == '\\') {
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == '}' && !quoted) {
                return i + 1;
            }
        }
        return -1;
    }

    @Override
    public void close() {
        http.shutdownNow();
    }
}
