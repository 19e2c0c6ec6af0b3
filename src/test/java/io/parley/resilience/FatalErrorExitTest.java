package io.parley.resilience;

import io.parley.testing.AttackTarget;
import io.parley.transport.FatalErrors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A server out of memory ends itself with {@link FatalErrors#EXIT_CODE}, for a supervisor to restart,
 * instead of staying up with dead threads. The out-of-memory is a real one: a 32 MB heap, every limit
 * that would stop the flood turned off (no rate limits, an outbound buffer of 100 GB), and pongs piling
 * up for clients that ping and never read. Nothing in the server is there for this test.
 */
class FatalErrorExitTest {

    @TempDir
    Path dir;

    @Test
    void runningOutOfMemoryEndsTheProcessWithExitCode70() throws Exception {
        try (AttackTarget target = AttackTarget.start(dir, List.of("-Xmx32m"),
                "--no-rate-limits", "--outbound-buffer-bytes", "100000000000")) {
            long start = System.nanoTime();
            int exit;
            try (PingFlood flood = PingFlood.start(target.port(), 4)) {
                exit = target.awaitExit(Duration.ofSeconds(60));
            }
            System.out.printf("out of memory: exited with %d after %d ms; %s%n", exit,
                    Duration.ofNanos(System.nanoTime() - start).toMillis(),
                    target.log().lines().filter(l -> l.contains("fatal: ")).findFirst().orElse("no fatal line"));
            assertThat(exit).as("exit code; the log:\n%s", target.log()).isEqualTo(FatalErrors.EXIT_CODE);
            assertThat(target.log()).contains("fatal: ").contains("OutOfMemoryError");
        }
    }
}
