package io.parley.release;

import static org.assertj.core.api.Assertions.assertThat;

import io.parley.testing.FreePorts;
import io.parley.testing.NodeServices;
import io.parley.testing.PostgresProcess;
import io.parley.testing.ServeProcess;
import io.parley.testing.WsClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive's runtime as a node of several: history in PostgreSQL and rooms over Redis, so
 * that pgjdbc (SCRAM sign-in; its stream refers to GSS-API types), HikariCP, Lettuce and Netty's DNS
 * resolver (the Redis host is a name) all run on the runtime's modules. Skipped where PostgreSQL or
 * Redis is not installed; .ci/run installs both.
 */
class ReleaseArchiveNodesIT {

    @TempDir
    Path work;

    @Test
    void keepsHistoryInPostgresqlAndSharesRoomsOverRedis() throws Exception {
        UnpackedArchive archive = UnpackedArchive.into(work);
        try (NodeServices services = NodeServices.start()) {
            String database = services.postgres().createDatabase();
            int port = FreePorts.belowEphemeralRange();
            Map<String, String> env = archive.environment();
            env.put("PARLEY_PORT", String.valueOf(port));
            env.put("PARLEY_POSTGRES_URL", database);
            env.put("PARLEY_REDIS_URL", "redis://localhost:" + services.redis().port());
            Path log = work.resolve("serve.log");
            Process server = UnpackedArchive.start(env, log, archive.path("bin/parley").toString(), "serve");
            try {
                try (HttpClient http = HttpClient.newHttpClient()) {
                    if (!ServeProcess.becomesHealthy(http, URI.create("http://127.0.0.1:" + port + "/healthz"),
                            server, Duration.ofSeconds(30))) {
                        throw new AssertionError("bin/parley serve did not become healthy ("
                                + (server.isAlive() ? "still starting" : "exited with " + server.exitValue())
                                + "); its output:\n"
                                + Files.readString(log));
                    }
                }
                URI chat = URI.create("ws://127.0.0.1:" + port + "/chat");
                try (WsClient ann = WsClient.hello(chat, "ann");
                     WsClient ben = WsClient.hello(chat, "ben")) {
                    ann.join("lobby");
                    ben.join("lobby");
                    ann.say("lobby", "a1", "stored in PostgreSQL");
                    assertThat(ann.expect("ack").path("seq").asLong()).isEqualTo(1);
                    assertThat(ben.expect("message").path("text").asText()).isEqualTo("stored in PostgreSQL");
                }
                try (Connection db = PostgresProcess.connect(database);
                     Statement query = db.createStatement();
                     ResultSet rows = query.executeQuery("SELECT count(*) FROM messages")) {
                    assertThat(rows.next()).isTrue();
                    assertThat(rows.getLong(1)).isEqualTo(1);
                }
            } finally {
                server.destroy();
                if (!server.waitFor(30, TimeUnit.SECONDS)) {
                    server.destroyForcibly();
                }
            }
            assertThat(Files.readString(log)).contains("Parley stopped").doesNotContain("Exception", "ERROR");
        }
    }
}
