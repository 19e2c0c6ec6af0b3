package io.parley.cli;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * bin/parley, the launcher the README starts Parley with, really hands its JVM options to the server:
 * the server is started through it as a child process and the running JVM's own flags are read back
 * with jcmd. The class path is this build's (PARLEY_CLASSPATH), so no packaged jar is needed.
 */
class LauncherTest {

    private static final Path LAUNCHER = Path.of("bin", "parley");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path work;

    @Test
    void serveRunsWithTheMeasuredMemoryOptions() throws Exception {
        String flags = flagsOfServerStartedWith(null);
        assertThat(flags).contains("-XX:MaxHeapSize=1073741824", "-XX:MaxNewSize=33554432",
                "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30");
    }

    @Test
    void operatorOptionsComeAfterTheDefaultsAndWin() throws Exception {
        String flags = flagsOfServerStartedWith("-Xmx512m");
        assertThat(flags).contains("-XX:MaxNewSize=33554432", "-XX:MaxHeapSize=536870912");
    }

    /** Starts serve through the launcher, waits until it listens, returns {@code jcmd PID VM.flags}. */
    private String flagsOfServerStartedWith(String javaOpts) throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path log = work.resolve("serve-" + port + ".log");
        ProcessBuilder builder = new ProcessBuilder("sh", LAUNCHER.toString(), "serve", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--data-dir", work.resolve("data-" + port).toString())
                .redirectErrorStream(true).redirectOutput(log.toFile());
        builder.environment().put("PARLEY_CLASSPATH", System.getProperty("java.class.path"));
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        if (javaOpts == null) {
            builder.environment().remove("PARLEY_JAVA_OPTS");
        } else {
            builder.environment().put("PARLEY_JAVA_OPTS", javaOpts);
        }
        Process server = builder.start();
        try {
            awaitListening(server, log);
            // The launcher execs java, so the child's pid is the JVM's.
            Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                    String.valueOf(server.pid()), "VM.flags").redirectErrorStream(true).start();
            String flags = new String(jcmd.getInputStream().readAllBytes());
            assertThat(jcmd.waitFor(30, TimeUnit.SECONDS)).isTrue();
            return flags;
        } finally {
            server.destroy();
            if (!server.waitFor(10, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static void awaitListening(Process server, Path log) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline && server.isAlive()) {
            if (Files.exists(log) && Files.readString(log).contains("Parley listening on")) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("parley serve did not start through " + LAUNCHER + "; its output:\n"
                + (Files.exists(log) ? Files.readString(log) : "(none)"));
    }
}
