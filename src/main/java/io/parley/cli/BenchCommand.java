package io.parley.cli;

import io.parley.bench.BenchParameters;
import io.parley.bench.BenchReport;
import io.parley.bench.BenchRun;
import io.parley.bench.BenchTransport;
import io.parley.bench.JoinRun;
import io.parley.bench.LeanWebSocketTransport;
import io.parley.bench.LoopbackSources;
import io.parley.bench.ServerAddress;
import io.parley.bench.SpreadTransport;
import io.parley.bench.MetricsReader;
import io.parley.bench.TransportComparison;
import io.parley.bench.TransportKind;
import io.parley.bench.WebSocketClientKind;
import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code parley bench}: a load test against a running server. Many subscribers join one room,
 * publishers send at a fixed rate, and the report says how many deliveries arrived, how late, and
 * what they cost the server. With several {@code --transport}s the same workload runs over each in
 * turn and a comparison table follows, which {@code --write-docs} also writes into a document.
 * With several {@code --url}s (nodes sharing rooms) members join through them in turn and the
 * report says each node's share; the server cost is every node's counters added up.
 * Reports go to standard output, progress (a line a second) to standard error. The work itself is
 * {@link BenchRun}; this class only turns options into {@link BenchParameters} and transports.
 */
@Command(name = "bench",
        mixinStandardHelpOptions = true,
        subcommands = {BenchEchoCommand.class, BenchIdleCommand.class},
        description = {"Load-test a running server: subscribers join a room, publishers send to it at a "
                + "fixed rate, and every delivery's end-to-end latency is measured.",
                "Publishers are room members too: each message is expected at every subscriber and "
                        + "every publisher."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every expected delivery arrived and every connection held",
                "1:deliveries were lost, or connections failed or dropped",
                "2:invalid options"})
public final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ServerUrl server;

    @Option(names = "--room", paramLabel = "ROOM", defaultValue = "bench",
            description = "Room all members join (default: ${DEFAULT-VALUE}).")
    String room;

    @Option(names = "--subscribers", paramLabel = "N", defaultValue = "100",
            description = "Connections that only receive (default: ${DEFAULT-VALUE}).")
    int subscribers;

    @Option(names = "--publishers", paramLabel = "P", defaultValue = "1",
            description = "Connections that send, and receive too (default: ${DEFAULT-VALUE}).")
    int publishers;

    @Option(names = "--rate", paramLabel = "MSG/S", defaultValue = "100",
            description = "Messages per second, in total over all publishers (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--duration", paramLabel = "SECONDS", defaultValue = "10",
            description = "Length of the measured window (default: ${DEFAULT-VALUE}).")
    int durationSeconds;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "2",
            description = "Sending before the measured window, left out of the latencies (default: ${DEFAULT-VALUE}).")
    int warmupSeconds;

    @Option(names = "--drain", paramLabel = "SECONDS", defaultValue = "2",
            description = "Longest wait after the last send for deliveries in flight (default: ${DEFAULT-VALUE}).")
    int drainSeconds;

    @Option(names = "--size", paramLabel = "BYTES", defaultValue = "100",
            description = "Bytes of text per message, at least 32 (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--connect-rate", paramLabel = "CONN/S", defaultValue = "500",
            description = "Connections opened per second while setting up (default: ${DEFAULT-VALUE}).")
    int connectRate;

    @Option(names = "--transport", paramLabel = "NAME", split = ",", defaultValue = "websocket",
            description = {"How members reach the server: websocket, longpoll, poll, a comma list of them, or all;"
                    + " several run one after the other (default: ${DEFAULT-VALUE}).",
                    "longpoll and poll use the HTTP API on the host and port of --url."})
    List<String> transports;

    @Option(names = "--joins-only",
            description = {"Only connect --subscribers members into the room, each saying hello and joining:"
                    + " report how long that took and how many presence frames it cost (lean client). Sends"
                    + " nothing."})
    boolean joinsOnly;

    @Option(names = "--joins-warmup", paramLabel = "N", defaultValue = "200",
            description = {"With --joins-only: first join N members into another room (<room>-warmup) and let"
                    + " them leave, untimed, so that the bench's own start (a fresh JVM) is not in the join time;"
                    + " 0 for none (default: ${DEFAULT-VALUE})."})
    int joinsWarmup;

    @Option(names = "--source-addresses", paramLabel = "K", defaultValue = "1",
            description = {"With --joins-only: connect from K loopback addresses in turn (127.0.0.1, 127.0.0.2,"
                    + " ...; up to 65,000; loopback servers only): near its limit a server keeps the last tenth of"
                    + " its connections for addresses holding fewer than 4 (default: ${DEFAULT-VALUE})."})
    int sourceAddresses;

    @Option(names = "--client", paramLabel = "lean|jdk", defaultValue = "lean",
            description = {"WebSocket client: lean (Netty, reads deliveries without decoding them, checks every"
                    + " member's seq; ws:// only) or jdk (java.net.http: an independent second check, at about"
                    + " three times the CPU per delivery) (default: ${DEFAULT-VALUE})."})
    String client;

    @Option(names = "--poll-interval", paramLabel = "SECONDS", defaultValue = "1",
            description = "Time between a polling member's reads, for --transport poll (default: ${DEFAULT-VALUE}).")
    double pollIntervalSeconds;

    @Option(names = "--long-poll-wait", paramLabel = "SECONDS", defaultValue = "25",
            description = "How long the server may hold a long poll, 1 to 30, for --transport longpoll"
                    + " (default: ${DEFAULT-VALUE}).")
    int longPollWait;

    @Option(names = "--token", paramLabel = "TOKEN", defaultValue = "${env:PARLEY_TOKEN}",
            description = "Bearer token every member presents, env PARLEY_TOKEN (default: none, members are guests).")
    String token;

    @Option(names = "--write-docs", paramLabel = "FILE",
            description = {"Write the comparison (a Markdown table) into FILE between the markers "
                    + TransportComparison.START + " and " + TransportComparison.END
                    + " (appended if absent), and its chart next to it as " + TransportComparison.CHART_FILE + ".",
                    "Server figures come from the server's /metrics: run alone against the server."})
    Path writeDocs;

    @Override
    public Integer call() throws InterruptedException {
        List<URI> urls = server.all();
        URI url = urls.getFirst();
        BenchParameters parameters;
        List<TransportKind> kinds;
        WebSocketClientKind clientKind;
        Duration pollInterval = Duration.ofNanos(Math.round(pollIntervalSeconds * 1e9));
        try {
            parameters = new BenchParameters(urls, room, subscribers, publishers, rate,
                    Duration.ofSeconds(warmupSeconds), Duration.ofSeconds(durationSeconds),
                    Duration.ofSeconds(drainSeconds), size, connectRate);
            kinds = TransportKind.parse(transports);
            clientKind = WebSocketClientKind.parse(client);
            for (URI node : urls) {
                if (clientKind == WebSocketClientKind.LEAN && kinds.contains(TransportKind.WEBSOCKET)
                        && !"ws".equalsIgnoreCase(node.getScheme())) {
                    throw new IllegalArgumentException("the lean client speaks ws:// only; use --client jdk for "
                            + node);
                }
            }
            checkTransportOptions(kinds, pollInterval);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter progress = spec.commandLine().getErr();
        if (sourceAddresses != 1 && (!joinsOnly || clientKind != WebSocketClientKind.LEAN)) {
            throw new ParameterException(spec.commandLine(), "--source-addresses goes with --joins-only and the lean client");
        }
        if (joinsOnly) {
            List<InetSocketAddress> sources;
            try {
                sources = LoopbackSources.first(sourceAddresses);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            try (BenchTransport transport = sources.isEmpty()
                    ? TransportKind.WEBSOCKET.open(url, token, clientKind, longPollWait, pollInterval)
                    : new LeanWebSocketTransport(url, token, sources);
                 MetricsReader metrics = new MetricsReader(new ServerAddress(url).metrics())) {
                JoinRun.Result result = JoinRun.run(parameters, transport, Math.max(0, joinsWarmup), metrics,
                        progress);
                result.print(out);
                return result.passed() ? 0 : 1;
            }
        }
        List<BenchReport> reports = new ArrayList<>();
        try (MetricsReader metrics = new MetricsReader(urls.stream()
                .map(node -> new ServerAddress(node).metrics()).toList())) {
            for (TransportKind kind : kinds) {
                if (kinds.size() > 1) {
                    progress.printf(Locale.ROOT, "parley bench: %s (%d of %d)%n", kind.label(),
                            reports.size() + 1, kinds.size());
                    progress.flush();
                }
                try (BenchTransport transport = urls.size() == 1
                        ? kind.open(url, token, clientKind, longPollWait, pollInterval)
                        : new SpreadTransport(urls, node -> kind.open(node, token, clientKind, longPollWait,
                                pollInterval))) {
                    reports.add(BenchRun.run(parameters, transport, metrics, progress));
                }
                reports.getLast().print(out);
                out.println();
            }
        }
        TransportComparison comparison = new TransportComparison(reports, command(parameters, kinds, clientKind),
                LocalDate.now());
        if (kinds.size() > 1) {
            out.println(comparison.workload() + ":");
            out.println();
            out.print(comparison.table());
            out.flush();
        }
        if (writeDocs != null) {
            try {
                comparison.writeInto(writeDocs);
            } catch (IOException e) {
                progress.println("parley bench: cannot write " + writeDocs + ": " + e.getMessage());
                progress.flush();
                return 1;
            }
            progress.println("parley bench: wrote the comparison into " + writeDocs + ", chart "
                    + writeDocs.toAbsolutePath().resolveSibling(TransportComparison.CHART_FILE));
            progress.flush();
        }
        return reports.stream().allMatch(BenchReport::passed) ? 0 : 1;
    }

    private void checkTransportOptions(List<TransportKind> kinds, Duration pollInterval) {
        boolean pollFitsDrain = pollInterval.isPositive()
                && pollInterval.compareTo(Duration.ofSeconds(drainSeconds)) < 0;
        if (kinds.contains(TransportKind.POLL) && !pollFitsDrain) {
            throw new IllegalArgumentException("--poll-interval must be positive and shorter than --drain"
                    + " (the last messages wait up to one interval), was " + pollIntervalSeconds + " s");
        }
        if (kinds.contains(TransportKind.LONGPOLL) && (longPollWait < 1 || longPollWait > 30)) {
            throw new IllegalArgumentException("--long-poll-wait must be 1 to 30 seconds, was " + longPollWait);
        }
    }

    /** The command line that repeats this run, every option spelled out; a token shows as a placeholder. */
    private String command(BenchParameters parameters, List<TransportKind> kinds, WebSocketClientKind clientKind) {
        StringBuilder command = new StringBuilder("java -jar target/parley.jar bench ").append(parameters.asOptions())
                .append(" --transport ")
                .append(kinds.stream().map(TransportKind::label).collect(Collectors.joining(",")));
        if (kinds.contains(TransportKind.POLL)) {
            command.append(" --poll-interval ")
                    .append(BigDecimal.valueOf(pollIntervalSeconds).stripTrailingZeros().toPlainString());
        }
        if (kinds.contains(TransportKind.LONGPOLL)) {
            command.append(" --long-poll-wait ").append(longPollWait);
        }
        if (kinds.contains(TransportKind.WEBSOCKET)) {
            command.append(" --client ").append(clientKind.label());
        }
        if (token != null) {
            command.append(" --token \"$PARLEY_TOKEN\"");
        }
        if (writeDocs != null) {
            command.append(" --write-docs ").append(writeDocs);
        }
        return command.toString();
    }
}
