package io.parley.release;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.ChatProcess;
import io.parley.testing.FreePorts;
import io.parley.testing.ServeProcess;
import io.parley.testing.TestCertificate;
import io.parley.testing.WsClient;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive as an operator gets it, unpacked and run with no java on the PATH
 * ({@link UnpackedArchive}): served from, chatted with, stopped; its systemd unit checked against its
 * layout. Run by failsafe after {@code package}.
 *
 * <p>What the server does here exercises each module the runtime was given: TLS on both ends (the
 * server's certificate is EC), JDBC and SQLite's native library (every message is stored before it is
 * delivered), ICU (a look-alike guest name is refused), management (/metrics), JFR (a recording dumped at
 * exit), java.net.http ({@code parley chat}), jcmd.
 */
class ReleaseArchiveIT {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    static Path work;
    private static UnpackedArchive archive;
    private static Process server;

    @BeforeAll
    static void unpack() throws Exception {
        archive = UnpackedArchive.into(work);
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.destroyForcibly();
        }
    }

    @Test
    void servesAndChatsWithOnlyItsOwnRuntimeThenStopsOnSigterm() throws Exception {
        TestCertificate certificate = TestCertificate.makeIn(Files.createDirectory(work.resolve("tls")));
        assertThat(certificate).as("openssl makes the test certificate (.ci/run installs it)").isNotNull();
        int port = FreePorts.belowEphemeralRange();
        Path log = work.resolve("serve.log");
        Path recording = work.resolve("parley.jfr");

        // As systemd would start it: the example environment file's settings, then this test's own.
        Map<String, String> env = archive.environment();
        env.putAll(archive.settingsIn("etc/parley.env.example"));
        env.put("PARLEY_HOST", "127.0.0.1");
        env.put("PARLEY_PORT", String.valueOf(port));
        env.put("PARLEY_DATA_DIR", work.resolve("data").toString());
        env.put("PARLEY_TLS_CERT", certificate.cert().toString());
        env.put("PARLEY_TLS_KEY", certificate.key().toString());
        env.put("PARLEY_JAVA_OPTS", "-XX:StartFlightRecording=filename=" + recording + ",dumponexit=true");
        server = UnpackedArchive.start(env, log, archive.path("bin/parley").toString(), "serve");

        HttpClient https = HttpClient.newBuilder().sslContext(certificate.trusting()).build();
        URI base = URI.create("https://127.0.0.1:" + port);
        if (!ServeProcess.becomesHealthy(https, base.resolve("/healthz"), server, START_TIMEOUT)) {
            throw new AssertionError("bin/parley serve from the archive did not become healthy ("
                    + (server.isAlive() ? "still starting" : "exited with " + server.exitValue())
                    + "); its output:\n"
                    + Files.readString(log));
        }
        assertThat(ProcessHandle.of(server.pid()).flatMap(p -> p.info().command()).map(Path::of))
                .as("the launcher execs the archive's own java")
                .contains(archive.path("runtime/bin/java").toRealPath());

        URI chat = URI.create("wss://127.0.0.1:" + port + "/chat");
        try (WsClient carol = hello(https, chat, "Carol");
             WsClient twin = hello(https, chat, "\u0421arol")) { // Cyrillic С
            carol.join("lobby");
            twin.send(Map.of("type", "join", "room", "lobby"));
            assertThat(twin.expect("error").path("code").asText()).as("ICU's look-alike check")
                    .isEqualTo("invalid_name");

            Map<String, String> chatEnv = archive.environment();
            chatEnv.put("PARLEY_JAVA_OPTS", "-Djavax.net.ssl.trustStore="
                    + certificate.writeTrustStore(work.resolve("trust.p12"), "changeit")
                    + " -Djavax.net.ssl.trustStorePassword=changeit");
            // As the README has it: the launcher linked into a directory on the PATH, found through the link.
            Path linked = Files.createSymbolicLink(archive.tools().resolve("parley"), archive.path("bin/parley"));
            ChatProcess ada = new ChatProcess(UnpackedArchive.command(chatEnv, linked.toString(), "chat",
                    "--url", chat.toString(), "--room", "lobby", "--name", "ada")
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start());
            try {
                assertThat(ada.joinedAsSeenBy(carol, "ada", START_TIMEOUT)).as("parley chat joined").isTrue();
                ada.type("hello from the archive");
                JsonNode said = carol.expect("message", m -> m.path("from").asText().equals("ada"));
                assertThat(said.path("text").asText()).isEqualTo("hello from the archive");
                carol.say("lobby", "c1", "hi ada");
                assertThat(ada.nextLineContaining("Carol: hi ada")).isNotNull();
                assertThat(ada.endInputAndWait()).as("parley chat's exit code").isZero();
            } finally {
                ada.kill();
            }
        }

        HttpResponse<String> metrics = https.send(HttpRequest.newBuilder(base.resolve("/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("process_cpu_time_seconds_total", "jvm_memory_used_bytes",
                "parley_messages_stored_total");

        String flags = archive.run(archive.path("runtime/bin/jcmd").toString(), String.valueOf(server.pid()),
                "VM.flags");
        assertThat(flags).as("bin/parley's memory options, seen by the runtime's jcmd")
                .contains("-XX:MaxHeapSize=1073741824", "-XX:MaxNewSize=33554432");
        String properties = archive.run(archive.path("runtime/bin/jcmd").toString(), String.valueOf(server.pid()),
                "VM.system_properties");
        assertThat(properties).as("the runtime's class-data archive, made for the launcher's object headers, "
                + "in use: without it an idle server holds about 10 MB more (docs/BENCHMARKS.md, \"Idle server\")")
                .containsPattern("java\\.vm\\.info=.*sharing");

        server.destroy(); // SIGTERM
        assertThat(server.waitFor(30, TimeUnit.SECONDS)).as("stopped within 30 s of SIGTERM").isTrue();
        assertThat(server.exitValue()).as("128 + SIGTERM: stopped as asked (the unit's SuccessExitStatus)")
                .isEqualTo(143);
        assertThat(Files.readString(log)).contains("Parley stopped").doesNotContain("Exception", "ERROR");
        assertThat(recording).as("the flight recording dumped at exit").isNotEmptyFile();
    }

    /**
     * Accounts through the archive's own runtime: {@code bin/parley user add} hashes the password read from
     * standard input with Argon2id (Bouncy Castle, a jar beside the jlink runtime, not a module of it) and
     * writes the account into the database of a server that is running; the server then signs that account
     * in over HTTP, and the token it hands out chats as the account's user id.
     */
    @Test
    void aUserAddedWithTheArchivesLauncherSignsInToItsRunningServerAndChats() throws Exception {
        int port = FreePorts.belowEphemeralRange();
        Path data = work.resolve("accounts-data");
        Path log = work.resolve("accounts-serve.log");
        Map<String, String> env = archive.environment();
        env.put("PARLEY_HOST", "127.0.0.1");
        env.put("PARLEY_PORT", String.valueOf(port));
        env.put("PARLEY_DATA_DIR", data.toString());
        Process accountsServer = UnpackedArchive.start(env, log, archive.path("bin/parley").toString(), "serve");
        try {
            HttpClient http = HttpClient.newHttpClient();
            URI base = URI.create("http://127.0.0.1:" + port);
            if (!ServeProcess.becomesHealthy(http, base.resolve("/healthz"), accountsServer, START_TIMEOUT)) {
                throw new AssertionError("bin/parley serve did not become healthy; its output:\n"
                        + Files.readString(log));
            }

            Process add = UnpackedArchive.command(env, archive.path("bin/parley").toString(), "user", "add", "Grace")
                    .redirectErrorStream(true).start();
            try (var stdin = add.getOutputStream()) {
                stdin.write("correct horse battery\n".getBytes(StandardCharsets.UTF_8));
            }
            String added = new String(add.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(add.waitFor(60, TimeUnit.SECONDS)).as("parley user add ended").isTrue();
            assertThat(add.exitValue()).as("parley user add: " + added).isZero();
            Matcher id = Pattern.compile("added Grace \\((\\S+)\\)").matcher(added);
            assertThat(id.find()).as("parley user add names the account's id: " + added).isTrue();

            HttpResponse<String> wrong = http.send(signIn(base, "Grace", "wrong horse battery"),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(wrong.statusCode()).as("a wrong password: %s", wrong.body()).isEqualTo(401);
            HttpResponse<String> signedIn = http.send(signIn(base, "grace", "correct horse battery"),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(signedIn.statusCode()).as("POST /api/session: %s", signedIn.body()).isEqualTo(200);
            JsonNode session = WsClient.JSON.readTree(signedIn.body());
            assertThat(session.path("user").asText()).as("the session's user").isEqualTo(id.group(1));
            assertThat(session.path("name").asText()).isEqualTo("Grace");

            URI chat = URI.create("ws://127.0.0.1:" + port + "/chat?token="
                    + URLEncoder.encode(session.path("token").asText(), StandardCharsets.UTF_8));
            try (WsClient grace = WsClient.connect(http, chat)) {
                grace.send(Map.of("type", "hello"));
                JsonNode welcome = grace.expect("welcome");
                assertThat(welcome.path("user").asText()).isEqualTo(id.group(1));
                assertThat(welcome.path("guest").asBoolean()).isFalse();
                grace.join("lobby");
                grace.say("lobby", "g1", "signed in from the archive");
                JsonNode said = grace.expect("message", m -> m.path("id").asText().equals("g1"));
                assertThat(said.path("user").asText()).as("stored under the account's id").isEqualTo(id.group(1));
                assertThat(said.path("from").asText()).isEqualTo("Grace");
            }
        } finally {
            accountsServer.destroy();
            if (!accountsServer.waitFor(30, TimeUnit.SECONDS)) {
                accountsServer.destroyForcibly();
            }
        }
        assertThat(Files.readString(log)).doesNotContain("Exception", "ERROR");
    }

    private static HttpRequest signIn(URI base, String name, String password) {
        return HttpRequest.newBuilder(base.resolve("/api/session")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(WsClient.JSON.createObjectNode()
                        .put("name", name).put("password", password).toString()))
                .build();
    }

    @Test
    void theSystemdUnitStartsTheArchivesLauncherWithTheExampleSettings() throws Exception {
        Path unit = archive.path("etc/systemd/parley.service");
        String text = Files.readString(unit);
        assertThat(text).contains("\nExecStart=/opt/parley/bin/parley serve\n",
                "\nEnvironmentFile=/etc/parley/parley.env\n", "\nUser=parley\n", "\nRestart=on-failure\n",
                "\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n", "\nLimitNOFILE=65536\n");
        // Installed as docs/OPERATIONS.md says, the archive is /opt/parley: every path under it must exist.
        Matcher paths = Pattern.compile("/opt/parley/(\\S+)").matcher(text);
        while (paths.find()) {
            assertThat(archive.path(paths.group(1))).as(paths.group()).exists();
        }
        assertThat(archive.path("bin/parley")).isExecutable();

        // The example's variables (set or commented out) are all settings Parley reads.
        String operations = Files.readString(archive.path("docs/OPERATIONS.md"));
        Matcher variables = Pattern.compile("PARLEY_[A-Z_]+")
                .matcher(Files.readString(archive.path("etc/parley.env.example")));
        while (variables.find()) {
            assertThat(operations).as("docs/OPERATIONS.md documents " + variables.group()).contains(variables.group());
        }

        Path analyze = Path.of("/usr/bin/systemd-analyze");
        if (Files.isExecutable(analyze)) {
            // It checks every setting's syntax and that ExecStart is an executable file: the unpacked one.
            Path here = Files.writeString(work.resolve("parley.service"),
                    text.replace("/opt/parley/", archive.path("") + "/"));
            Process verify = new ProcessBuilder(analyze.toString(), "verify", here.toString())
                    .redirectErrorStream(true).start();
            String said = new String(verify.getInputStream().readAllBytes()).strip();
            assertThat(verify.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(said).as("systemd-analyze verify").isEmpty();
            assertThat(verify.exitValue()).isZero();
        }
    }

    private static WsClient hello(HttpClient http, URI chat, String name) {
        WsClient client = WsClient.connect(http, chat);
        client.send(Map.of("type", "hello", "name", name));
        client.expect("welcome");
        return client;
    }
}
