package io.parley.cli;

import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ServeCommandTest {

    @TempDir
    Path dir;

    @Test
    void helpListsEveryCommand() {
        StringWriter out = new StringWriter();
        int code = ParleyCommand.commandLine().setOut(new PrintWriter(out)).execute("--help");

        assertThat(code).isZero();
        assertThat(out.toString()).contains("serve", "chat", "bench");
    }

    @Test
    void serveHelpShowsItsDefaults() {
        StringWriter out = new StringWriter();
        ParleyCommand.commandLine().setOut(new PrintWriter(out)).execute("serve", "--help");

        assertThat(out.toString()).contains("--host", "Default: 127.0.0.1", "--port", "Default: 8080",
                "--data-dir", "Default: data");
    }

    @Test
    void flagsBecomeTheServerConfig() {
        ServeCommand serve = new ServeCommand();
        new picocli.CommandLine(serve).parseArgs("--port", "9000", "--host", "0.0.0.0", "--data-dir", "/tmp/x",
                "--allowed-origin", "https://a.example,https://b.example", "--max-message-length", "300",
                "--trusted-proxy", "10.0.0.0/8,::1", "--trusted-proxy", "192.0.2.7");

        var config = serve.config();
        assertThat(config.port()).isEqualTo(9000);
        assertThat(config.host()).isEqualTo("0.0.0.0");
        assertThat(config.dataDir()).isEqualTo(Path.of("/tmp/x"));
        assertThat(config.allowedOrigins()).containsExactly("https://a.example", "https://b.example");
        assertThat(config.maxMessageLength()).isEqualTo(300);
        assertThat(config.admission().trustedProxies().entries()).containsExactly("10.0.0.0/8", "::1", "192.0.2.7");
        assertThat(config.access().metricsFrom().entries()).as("by default").containsExactly("127.0.0.0/8", "::1");
    }

    @Test
    void accountFlagsBecomeTheAccountsPolicyWithSafeDefaults() {
        ServeCommand defaults = new ServeCommand();
        new picocli.CommandLine(defaults).parseArgs();
        var closed = defaults.config().access().accounts();
        assertThat(closed.openSignup()).isFalse();
        assertThat(closed.tokenTtl()).isEqualTo(Duration.ofMinutes(15));
        assertThat(closed.sessionLifetime()).isEqualTo(Duration.ofDays(30));
        assertThat(closed.signInsPerMinutePerAddress()).isEqualTo(10);

        ServeCommand open = new ServeCommand();
        new picocli.CommandLine(open).parseArgs("--open-signup", "--session-token-ttl", "90s", "--session-lifetime", "12h",
                "--sign-ins-per-minute", "3");
        var accounts = open.config().access().accounts();
        assertThat(accounts.openSignup()).isTrue();
        assertThat(accounts.tokenTtl()).isEqualTo(Duration.ofSeconds(90));
        assertThat(accounts.sessionLifetime()).isEqualTo(Duration.ofHours(12));
        assertThat(accounts.signInsPerMinutePerAddress()).isEqualTo(3);

        ServeCommand unlimited = new ServeCommand();
        new picocli.CommandLine(unlimited).parseArgs("--no-rate-limits");
        assertThat(unlimited.config().access().accounts().signInsPerMinutePerAddress()).isZero();

        ServeCommand tooShort = new ServeCommand();
        new picocli.CommandLine(tooShort).parseArgs("--session-token-ttl", "5s");
        assertThatThrownBy(tooShort::config).hasMessageContaining("30 s to 1 day");
        assertThatThrownBy(() -> new picocli.CommandLine(new ServeCommand()).parseArgs("--session-lifetime", "a week"))
                .hasMessageContaining("no lifetime");
    }

    @Test
    void compressionIsAcceptedUnlessTurnedOff() {
        ServeCommand on = new ServeCommand();
        new picocli.CommandLine(on).parseArgs();
        assertThat(on.config().access().compression()).isTrue();
        ServeCommand off = new ServeCommand();
        new picocli.CommandLine(off).parseArgs("--no-compression");
        assertThat(off.config().access().compression()).isFalse();
    }

    @Test
    void aPublicUrlIsTakenAsItIsAndOneThatIsNoHttpOriginIsRefusedAtStart() {
        ServeCommand serve = new ServeCommand();
        new picocli.CommandLine(serve).parseArgs("--public-url", "https://chat.example.com:8443");
        assertThat(serve.config().access().publicUrl()).isEqualTo(URI.create("https://chat.example.com:8443"));

        ServeCommand unset = new ServeCommand();
        new picocli.CommandLine(unset).parseArgs();
        assertThat(unset.config().access().publicUrl()).as("by default").isNull();

        for (String bad : List.of("chat.example.com", "ftp://chat.example.com", "https://user@chat.example.com", "https://[x")) {
            ServeCommand refused = new ServeCommand();
            new picocli.CommandLine(refused).parseArgs("--public-url", bad);
            assertThatThrownBy(refused::config).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("public");
        }
    }

    @Test
    void guestsPerAddressDefaultTo50ASecondAndNoRateLimitsTurnsThatOffToo() {
        ServeCommand defaults = new ServeCommand();
        new picocli.CommandLine(defaults).parseArgs();
        assertThat(defaults.config().admission().guestSendsPerSecondPerAddress()).isEqualTo(50);

        ServeCommand set = new ServeCommand();
        new picocli.CommandLine(set).parseArgs("--guest-sends-per-ip", "7");
        assertThat(set.config().admission().guestSendsPerSecondPerAddress()).isEqualTo(7);

        ServeCommand off = new ServeCommand();
        new picocli.CommandLine(off).parseArgs("--guest-sends-per-ip", "7", "--no-rate-limits");
        assertThat(off.config().admission().guestSendsPerSecondPerAddress()).isZero();
    }

    @Test
    void theTokenLeewayAndTheSqliteBusyTimeoutAreSettingsWithTheOldValuesAsDefaults() {
        ServeCommand defaults = new ServeCommand();
        new picocli.CommandLine(defaults).parseArgs();
        assertThat(defaults.config().access().tokenLeeway()).isEqualTo(java.time.Duration.ofSeconds(5));
        assertThat(defaults.config().sqliteBusyTimeout()).isEqualTo(java.time.Duration.ofSeconds(5));

        ServeCommand set = new ServeCommand();
        new picocli.CommandLine(set).parseArgs("--token-leeway", "0", "--sqlite-busy-timeout", "250");
        assertThat(set.config().access().tokenLeeway()).isZero();
        assertThat(set.config().sqliteBusyTimeout()).isEqualTo(java.time.Duration.ofMillis(250));

        for (String[] bad : List.of(new String[] {"--token-leeway", "-1"}, new String[] {"--token-leeway", "601"},
                new String[] {"--sqlite-busy-timeout", "-1"})) {
            ServeCommand refused = new ServeCommand();
            new picocli.CommandLine(refused).parseArgs(bad);
            assertThatThrownBy(refused::config).as(String.join(" ", bad)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void thePresenceGraceIsTenSecondsUnlessSetAndZeroTurnsItOff() {
        ServeCommand defaults = new ServeCommand();
        new picocli.CommandLine(defaults).parseArgs();
        assertThat(defaults.config().presenceGrace()).isEqualTo(java.time.Duration.ofSeconds(10));

        ServeCommand off = new ServeCommand();
        new picocli.CommandLine(off).parseArgs("--presence-grace", "0");
        assertThat(off.config().presenceGrace()).isZero();

        ServeCommand refused = new ServeCommand();
        new picocli.CommandLine(refused).parseArgs("--presence-grace", "-1");
        assertThatThrownBy(refused::config).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aTrustedProxyThatIsNotAnAddressIsRefusedAtStart() {
        ServeCommand serve = new ServeCommand();
        new picocli.CommandLine(serve).parseArgs("--trusted-proxy", "lb.internal");
        assertThatThrownBy(serve::config).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\"lb.internal\" is not an IP address or CIDR block");
    }

    @Test
    void serveExplainsWhyItCannotStartWhenThePortIsTaken() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            java.io.PrintStream original = System.err;
            System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
            int code;
            try {
                code = ParleyCommand.commandLine().execute("serve", "--port", String.valueOf(taken.getLocalPort()),
                        "--data-dir", dir.resolve("taken").toString());
            } finally {
                System.setErr(original);
            }
            assertThat(code).isEqualTo(1);
            assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8))
                    .contains("parley serve: cannot start on 127.0.0.1:" + taken.getLocalPort())
                    .containsIgnoringCase("address already in use");
        }
    }

    @Test
    void serveTakesItsSettingsFromTheEnvironmentAndStopsGracefullyOnSigterm() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Path data = dir.resolve("env-data");
        Path log = dir.resolve("serve.log");
        ProcessBuilder pb = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "-cp", System.getProperty("java.class.path"), ParleyCommand.class.getName(), "serve")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("PARLEY_PORT", String.valueOf(port));
        pb.environment().put("PARLEY_DATA_DIR", data.toString());
        Process server = pb.start();
        try {
            URI health = URI.create("http://127.0.0.1:" + port + "/healthz");
            HttpClient http = HttpClient.newHttpClient();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            int status = 0;
            while (status != 200 && System.nanoTime() < deadline) {
                try {
                    status = http.send(HttpRequest.newBuilder(health).build(), HttpResponse.BodyHandlers.discarding())
                            .statusCode();
                } catch (java.io.IOException notYet) {
                    Thread.sleep(100);
                }
            }
            assertThat(status).as("server log:%n%s", Files.exists(log) ? Files.readString(log) : "").isEqualTo(200);
            assertThat(data.resolve("parley.db")).exists();

            WsClient ada = WsClient.hello(URI.create("ws://127.0.0.1:" + port + "/chat"), "ada");
            ada.join("lobby");
            ada.say("lobby", "m1", "before SIGTERM");
            ada.expect("ack");

            server.destroy();
            assertThat(ada.awaitCloseCode()).isEqualTo(1001);
            assertThat(server.waitFor(20, TimeUnit.SECONDS)).isTrue();
            List<String> lines = Files.readAllLines(log);
            assertThat(lines).anyMatch(l -> l.contains("Parley stopped"));
        } finally {
            server.destroyForcibly();
        }
    }
}
