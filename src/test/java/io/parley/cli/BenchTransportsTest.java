package io.parley.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.parley.bench.TransportComparison;
import io.parley.testing.TestServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code parley bench --transport ...}: the same short workload over WebSocket, long polling and
 * polling against a real server, each losing nothing, and the comparison written into a document.
 */
class BenchTransportsTest {

    @TempDir
    Path dataDir;

    @TempDir
    Path docs;

    @Test
    void everyTransportDeliversEveryMessageAndTheComparisonIsWritten() throws Exception {
        Path document = docs.resolve("BENCHMARKS.md");
        Files.writeString(document, "# Benchmarks\n\n" + TransportComparison.START + "\n" + TransportComparison.END
                + "\n\nHand-written text stays.\n");
        try (TestServer server = TestServer.start(dataDir, TestServer.UNTHROTTLED)) {
            StringWriter out = new StringWriter();
            StringWriter progress = new StringWriter();

            int exit = ParleyCommand.commandLine()
                    .setOut(new PrintWriter(out))
                    .setErr(new PrintWriter(progress))
                    .execute("bench", "--url", server.chatUri().toString(), "--transport", "all",
                            "--subscribers", "4", "--publishers", "1", "--rate", "20", "--duration", "2",
                            "--warmup", "1", "--poll-interval", "0.5", "--write-docs", document.toString());

            String report = out.toString();
            assertThat(exit).as(report + progress).isZero();
            for (String transport : new String[] {"websocket", "longpoll", "poll"}) {
                assertThat(report).contains("parley bench over " + transport);
                assertThat(report).containsPattern("\\| " + transport + " \\| 300 \\| 0 \\| [0-9.]+ ms \\|");
            }
            assertThat(count(report, "sent 60, acked 60, rejected 0")).isEqualTo(3);
            assertThat(count(report, "delivered 300, lost 0")).isEqualTo(3);
            assertThat(count(report, "result       PASS")).isEqualTo(3);
            assertThat(count(report, "server cost  per delivered message: ")).isEqualTo(3);
            assertThat(progress.toString()).contains("parley bench: longpoll (2 of 3)")
                    .contains("parley bench: wrote the comparison into " + document);
        }
        String text = Files.readString(document);
        assertThat(text).startsWith("# Benchmarks\n\n" + TransportComparison.START)
                .endsWith(TransportComparison.END + "\n\nHand-written text stays.\n")
                .contains("--transport websocket,longpoll,poll --poll-interval 0.5 --long-poll-wait 25")
                .containsPattern("\\| longpoll \\| 300 \\| 0 \\| ");
        assertThat(Files.readString(docs.resolve(TransportComparison.CHART_FILE))).startsWith("<svg")
                .contains(">longpoll<");
    }

    private static int count(String text, String literal) {
        return (int) Pattern.compile(Pattern.quote(literal)).matcher(text).results().count();
    }
}
