package io.parley.cli;

import io.parley.bench.IdleConnections;
import io.parley.bench.LeanWebSocketTransport;
import io.parley.bench.LoopbackSources;
import java.io.PrintWriter;
import java.net.URI;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code parley bench idle}: holds many idle joined connections on a running server and, given its
 * process id, reports the server's resident memory before and with them, per connection
 * (docs/BENCHMARKS.md, "Memory"). The work is {@link IdleConnections}; this class reads options and
 * prints.
 */
@Command(name = "idle", mixinStandardHelpOptions = true,
        description = "Open N WebSocket connections that say hello, join a room and stay silent; hold them, and"
                + " report the server's RSS (read from /proc, same machine) before and with them.")
final class BenchIdleCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ServerUrl server;

    @Option(names = "--connections", paramLabel = "N", defaultValue = "1000",
            description = "Idle connections to open (default: ${DEFAULT-VALUE}).")
    int connections;

    @Option(names = "--room-size", paramLabel = "M", defaultValue = "100",
            description = "Members per room; connections fill rooms idle-0, idle-1, ... (default: ${DEFAULT-VALUE}).")
    int roomSize;

    @Option(names = "--connect-rate", paramLabel = "CONN/S", defaultValue = "2000",
            description = "Connections opened per second (default: ${DEFAULT-VALUE}).")
    int connectRate;

    @Option(names = "--hold", paramLabel = "SECONDS", defaultValue = "10",
            description = "How long to hold the connections once joined; RSS is read at the end (default: ${DEFAULT-VALUE}).")
    int holdSeconds;

    @Option(names = "--source-addresses", paramLabel = "K", defaultValue = "1",
            description = {"Connect from K loopback addresses in turn, 127.0.0.1, 127.0.0.2, ... 127.0.1.1, ..."
                    + " (up to 65,000; loopback servers only): a server keeps the last tenth of --max-connections"
                    + " for addresses holding fewer than 4, so near its limit each address must hold only a few"
                    + " (default: ${DEFAULT-VALUE})."})
    int sourceAddresses;

    @Option(names = "--server-pid", paramLabel = "PID", defaultValue = "-1",
            description = "The server's process id, to read its RSS from /proc (default: none, no RSS figures).")
    long serverPid;

    @Override
    public Integer call() throws InterruptedException {
        URI url = server.get();
        if (connections < 1 || roomSize < 1 || connectRate < 1 || holdSeconds < 0 || sourceAddresses < 1
                || sourceAddresses > LoopbackSources.MAX) {
            throw new ParameterException(spec.commandLine(),
                    "--connections, --room-size and --connect-rate must be positive, --hold not negative,"
                            + " --source-addresses 1 to " + LoopbackSources.MAX);
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter progress = spec.commandLine().getErr();
        long before = serverPid > 0 ? IdleConnections.residentBytes(serverPid) : -1;
        try (IdleConnections held = IdleConnections.open(new LeanWebSocketTransport(url, null,
                LoopbackSources.first(sourceAddresses)), connections, roomSize, connectRate, progress)) {
            progress.printf(Locale.ROOT, "parley bench idle: %d joined, %d failed; holding %d s%n",
                    held.joined(), held.failed(), holdSeconds);
            progress.flush();
            Thread.sleep(holdSeconds * 1000L);
            long with = serverPid > 0 ? IdleConnections.residentBytes(serverPid) : -1;
            out.printf(Locale.ROOT, "connections joined %d, failed %d, dropped while held %d%n",
                    held.joined(), held.failed(), held.dropped());
            if (before > 0 && with > 0) {
                out.printf(Locale.ROOT, "server RSS before %.1f MB, with them %.1f MB: %.2f KB per connection%n",
                        before / 1e6, with / 1e6, (with - before) / 1024.0 / Math.max(1, held.joined()));
            }
            out.flush();
            return held.failed() == 0 && held.dropped() == 0 ? 0 : 1;
        }
    }
}
