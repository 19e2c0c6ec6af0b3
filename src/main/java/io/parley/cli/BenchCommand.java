package io.parley.cli;

import io.parley.bench.BenchParameters;
import io.parley.bench.BenchReport;
import io.parley.bench.BenchRun;
import io.parley.bench.ServerAddress;
import io.parley.bench.ServerMetrics;
import io.parley.bench.WebSocketTransport;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code parley bench}: a load test against a running server. Many subscribers join one room,
 * publishers send at a fixed rate, and the report says how many deliveries arrived, how late, and
 * what they cost the server (from its {@code /metrics}).
 * The report goes to standard output, progress (a line a second) to standard error. The work itself
 * is {@link BenchRun}; this class only turns options into {@link BenchParameters}.
 */
@Command(name = "bench",
        mixinStandardHelpOptions = true,
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

    @Override
    public Integer call() throws InterruptedException {
        URI url = server.get();
        BenchParameters parameters;
        try {
            parameters = new BenchParameters(url, room, subscribers, publishers, rate,
                    Duration.ofSeconds(warmupSeconds), Duration.ofSeconds(durationSeconds),
                    Duration.ofSeconds(drainSeconds), size, connectRate);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        BenchReport report;
        try (WebSocketTransport transport = new WebSocketTransport(url);
             ServerMetrics metrics = new ServerMetrics(new ServerAddress(url).metrics())) {
            report = BenchRun.run(parameters, transport, metrics, spec.commandLine().getErr());
        }
        report.print(spec.commandLine().getOut());
        return report.passed() ? 0 : 1;
    }
}
