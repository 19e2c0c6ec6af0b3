package io.parley.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.parley.testing.TestServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code parley bench idle} against a real server: the connections are really open and joined while
 * held, from the source addresses asked for, and the server's RSS is reported when its pid is given.
 */
class BenchIdleCommandTest {

    private static final String HELD = "parley_connections{transport=\"websocket\"} 300.0";

    @TempDir
    Path dataDir;

    @Test
    void holdsJoinedConnectionsAndReportsTheServersMemoryPerConnection() throws Exception {
        try (TestServer server = TestServer.start(dataDir, TestServer.UNTHROTTLED);
             HttpClient http = HttpClient.newHttpClient()) {
            StringWriter out = new StringWriter();
            StringWriter progress = new StringWriter();
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> ParleyCommand.commandLine()
                    .setOut(new PrintWriter(out))
                    .setErr(new PrintWriter(progress))
                    // 300 source addresses: past 127.0.0.254 they go on in 127.0.1.x, one connection each.
                    .execute("bench", "idle", "--url", server.chatUri().toString(), "--connections", "300",
                            "--room-size", "100", "--source-addresses", "300", "--hold", "5",
                            "--server-pid", String.valueOf(ProcessHandle.current().pid())));

            // While held, the server counts every one of them as an open WebSocket.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            String metrics = "";
            while (System.nanoTime() < deadline && !metrics.contains(HELD) && !exit.isDone()) {
                metrics = http.send(HttpRequest.newBuilder(server.httpUri("/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                Thread.sleep(100);
            }
            assertThat(metrics).as(progress.toString()).contains(HELD);

            assertThat(exit.get(60, TimeUnit.SECONDS)).as(out + "" + progress).isZero();
            assertThat(out.toString()).contains("connections joined 300, failed 0, dropped while held 0")
                    .containsPattern("server RSS before [0-9.]+ MB, with them [0-9.]+ MB: -?[0-9.]+ KB per connection");
        }
    }
}
