package io.parley.store;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.PostgresProcess;
import io.parley.testing.ServeProcess;
import io.parley.testing.ApiClient;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A Parley server with {@code --postgres-url}: a client's message is acknowledged once it is a row in
 * PostgreSQL, and a restarted server (in process, and a {@code parley serve} killed with SIGKILL)
 * continues each room's history from there. Nothing is written to SQLite.
 */
class PostgresServeTest {

    private static PostgresProcess postgres;

    @TempDir
    Path dir;

    @BeforeAll
    static void startPostgres() {
        assumeTrue(PostgresProcess.unavailableReason() == null, PostgresProcess.unavailableReason());
        postgres = PostgresProcess.launch();
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Test
    void anAcknowledgedMessageIsARowInPostgresAndHistoryContinuesAfterARestart() throws Exception {
        String url = postgres.createDatabase();
        try (TestServer server = TestServer.start(dir, c -> c.withPostgres(PostgresUrl.parse(url)));
             WsClient ann = WsClient.hello(server.chatUri(), "ann")) {
            ann.join("lobby");
            ann.say("lobby", "m1", "hello, postgres");
            JsonNode ack = ann.expect("ack", m -> m.path("id").asText().equals("m1"));
            assertThat(ack.path("seq").asLong()).isEqualTo(1);
            assertThat(rows(url)).containsExactly("lobby 1 m1 guest:ann ann hello, postgres "
                    + ack.path("time").asLong());
        }
        assertThat(dir.resolve("parley.db")).as("nothing in SQLite").doesNotExist();

        try (TestServer server = TestServer.start(dir, c -> c.withPostgres(PostgresUrl.parse(url)));
             WsClient bob = WsClient.hello(server.chatUri(), "bob");
             WsClient ann = WsClient.hello(server.chatUri(), "ann")) {
            JsonNode joined = bob.join("lobby");
            assertThat(joined.path("seq").asLong()).isEqualTo(1);
            assertThat(joined.path("history").get(0).path("text").asText()).isEqualTo("hello, postgres");
            ann.join("lobby");
            bob.say("lobby", "b1", "after the restart");
            assertThat(bob.expect("ack").path("seq").asLong()).isEqualTo(2);
            // ann's resend of m1, as after a reconnect: the original's seq, and nothing stored.
            ann.say("lobby", "m1", "hello, postgres");
            assertThat(ann.expect("ack", m -> m.path("id").asText().equals("m1")).path("seq").asLong()).isEqualTo(1);

            // The rooms list, from PostgreSQL's rooms table and the live members, over both transports.
            bob.send(java.util.Map.of("type", "rooms"));
            JsonNode lobby = bob.expect("rooms").path("rooms").get(0);
            assertThat(lobby.path("room").asText()).isEqualTo("lobby");
            assertThat(lobby.path("seq").asLong()).isEqualTo(2);
            assertThat(lobby.path("members").asInt()).isEqualTo(2);
            try (ApiClient api = new ApiClient(server.port())) {
                assertThat(ApiClient.json(api.get("/api/rooms")).path("rooms").get(0)).isEqualTo(lobby);
            }
        }
        assertThat(rows(url)).hasSize(2);
    }

    @Test
    void parleyServeKilledWithSigkillLosesNoAcknowledgedMessageAndNeverLogsThePassword() throws Exception {
        String url = postgres.createDatabase();
        Path log = dir.resolve("serve.log");
        List<Long> acked = new ArrayList<>();
        try (ServeProcess serve = ServeProcess.start(dir, log, "--postgres-url", url)) {
            try (WsClient ann = WsClient.hello(serve.chatUri(), "ann")) {
                ann.join("lobby");
                for (int i = 1; i <= 5; i++) {
                    ann.say("lobby", "m" + i, "line " + i);
                }
                for (int i = 1; i <= 5; i++) {
                    acked.add(ann.expect("ack").path("seq").asLong());
                }
            }
            serve.kill9();
        }
        assertThat(acked).containsExactlyInAnyOrder(1L, 2L, 3L, 4L, 5L);
        assertThat(rows(url)).hasSize(5);

        Path secondLog = dir.resolve("serve2.log");
        try (ServeProcess serve = ServeProcess.start(dir, secondLog, "--postgres-url", url);
             WsClient ann = WsClient.hello(serve.chatUri(), "ann")) {
            JsonNode joined = ann.join("lobby", 3);
            assertThat(joined.path("history").findValuesAsText("seq")).containsExactly("4", "5");
            ann.say("lobby", "m6", "line 6");
            assertThat(ann.expect("ack").path("seq").asLong()).isEqualTo(6);
        }
        String logs = Files.readString(log) + Files.readString(secondLog);
        assertThat(logs).contains("history in jdbc:postgresql://127.0.0.1:" + postgres.port())
                .doesNotContain(PostgresProcess.PASSWORD)
                .doesNotContain(PostgresUrl.parse(url).password());
        assertThat(dir.resolve("parley.db")).doesNotExist();
    }

    /**
     * PostgreSQL cannot store U+0000: a message holding it is refused on its own, before it reaches a
     * batch, so that it cannot fail the other messages stored with it.
     */
    @Test
    void aMessageHoldingUPlus0000IsRefusedAndTheOthersOfItsBatchAreStored() throws Exception {
        String url = postgres.createDatabase();
        try (TestServer server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c)
                .withPostgres(PostgresUrl.parse(url)));
             WsClient ann = WsClient.hello(server.chatUri(), "ann");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            ann.join("lobby");
            bob.join("lobby");
            for (int i = 0; i < 20; i++) {
                bob.say("lobby", "b" + i, "fine " + i);
                ann.say("lobby", "a" + i, "nul \0 " + i);
            }
            for (int i = 0; i < 20; i++) {
                JsonNode error = ann.expect("error");
                assertThat(error.path("code").asText()).as(error.toString()).isEqualTo("bad_request");
            }
            assertThat(bob.collect("ack", 20)).extracting(a -> a.path("seq").asLong()).doesNotHaveDuplicates()
                    .allSatisfy(seq -> assertThat(seq).isBetween(1L, 20L));
        }
        assertThat(rows(url)).hasSize(20).noneMatch(r -> r.contains("nul"));
    }

    /** Every stored message, oldest first, as "room seq id user name text time". */
    private static List<String> rows(String url) throws Exception {
        List<String> rows = new ArrayList<>();
        try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT room, seq, client_id, sender_user, sender_name, body, sent_at"
                     + " FROM messages ORDER BY room, seq")) {
            while (rs.next()) {
                rows.add(rs.getString(1) + " " + rs.getLong(2) + " " + rs.getString(3) + " " + rs.getString(4) + " "
                        + rs.getString(5) + " " + rs.getString(6) + " " + rs.getLong(7));
            }
        }
        return rows;
    }
}
