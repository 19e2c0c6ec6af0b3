package io.parley.cli;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
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
    /** The line docs/OPERATIONS.md ("Logs") shows, as the launched server writes it to stderr. */
    private static final Pattern LISTENING_LINE = Pattern.compile("(?m)^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}"
            + "(Z|[+-]\\d\\d:\\d\\d) INFO  \\[main\\] i\\.p\\.t\\.ParleyServer - Parley listening on http://127\\.0\\.0\\.1:");

    @TempDir
    Path work;

    /**
     * The memory options reach the JVM, and logging is set up in code (LogConfiguration): Logback's XML
     * configurator and the JDK's XML parser, about 470 classes an idle server would keep for nothing,
     * are never loaded. One server for both, to keep this class short.
     */
    @Test
    void serveRunsWithTheMeasuredMemoryOptions() throws Exception {
        List<String> output = ofServerStartedWith(null, "VM.flags", "VM.class_hierarchy");
        assertThat(output.get(0)).contains("-XX:MaxHeapSize=1073741824", "-XX:MaxNewSize=33554432",
                "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=15",
                // What takes about 10 MB off an idle server's RSS (docs/BENCHMARKS.md, "Idle server").
                "-XX:TrimNativeHeapInterval=5000", "-XX:G1PeriodicGCInterval=5000",
                // The tests run on JDK 25, which knows it (docs/BENCHMARKS.md, "20,000 idle connections").
                "-XX:+UseCompactObjectHeaders");
        assertThat(output.get(1)).contains("ch.qos.logback.classic.LoggerContext", "io.parley.cli.LogConfiguration")
                .doesNotContain("ch.qos.logback.classic.joran.JoranConfigurator", "javax.xml.parsers.SAXParser");
    }

    @Test
    void operatorOptionsComeAfterTheDefaultsAndWin() throws Exception {
        String flags = ofServerStartedWith("-Xmx512m", "VM.flags").get(0);
        assertThat(flags).contains("-XX:MaxNewSize=33554432", "-XX:MaxHeapSize=536870912");
    }

    /**
     * Starts serve through the launcher, waits until it has logged that it listens (in the documented
     * format), and returns what {@code jcmd PID <command>} prints for each command.
     */
    private List<String> ofServerStartedWith(String javaOpts, String... jcmdCommands) throws Exception {
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
            List<String> outputs = new ArrayList<>();
            for (String command : jcmdCommands) {
                Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
                        String.valueOf(server.pid()), command).redirectErrorStream(true).start();
                outputs.add(new String(jcmd.getInputStream().readAllBytes()));
                assertThat(jcmd.waitFor(30, TimeUnit.SECONDS)).isTrue();
            }
            return outputs;
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
                assertThat(Files.readString(log)).containsPattern(LISTENING_LINE);
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("parley serve did not start through " + LAUNCHER + "; its output:\n"
                + (Files.exists(log) ? Files.readString(log) : "(none)"));
    }
}
