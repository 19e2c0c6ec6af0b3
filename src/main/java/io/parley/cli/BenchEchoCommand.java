package io.parley.cli;

import io.parley.bench.EchoServer;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code parley bench echo-server}: a stand-in server that only fans out pre-built frames
 * ({@link EchoServer}), to measure the load generator's own capacity. Hidden: a tool for
 * docs/BENCHMARKS.md, not something to deploy. Runs until the process is stopped.
 */
@Command(name = "echo-server", hidden = true, mixinStandardHelpOptions = true,
        description = "Serve just enough of the protocol for parley bench, fanning every send out to every"
                + " member with one write per member per batch: measures the load generator, not a server.")
final class BenchEchoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--host", paramLabel = "ADDRESS", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "18081", description = "Port to listen on (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--batch-millis", paramLabel = "MS", defaultValue = "5",
            description = "How long sends gather before they go out together (default: ${DEFAULT-VALUE}).")
    int batchMillis;

    @Option(names = "--drop-message", paramLabel = "N", defaultValue = "-1",
            description = "Ack this send (0 = the first) but deliver it to nobody: a loss to detect (default: none).")
    long dropMessage;

    @Override
    public Integer call() throws InterruptedException {
        try (EchoServer server = EchoServer.start(new InetSocketAddress(host, port),
                Duration.ofMillis(Math.max(1, batchMillis)), dropMessage)) {
            PrintWriter out = spec.commandLine().getOut();
            out.printf("parley bench echo-server: ws://%s:%d/chat%n", host, server.port());
            out.flush();
            new CountDownLatch(1).await();
        }
        return 0;
    }
}
