package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input gets its error code or close code, and the room's other members keep chatting: after each
 * case, a bystander pair exchanges a message.
 */
class BadInputTest {

    @TempDir
    static Path dir;
    static TestServer server;
    static int counter;

    WsClient ada;
    WsClient bob;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir, c -> TestServer.UNTHROTTLED.apply(c).withLimits(4096, 100, c.outboundBufferBytes()));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @BeforeEach
    void bystanders() {
        ada = WsClient.hello(server.chatUri(), "ada");
        bob = WsClient.hello(server.chatUri(), "bob");
        ada.join("lobby");
        bob.join("lobby");
    }

    @AfterEach
    void othersStillChat() {
        String id = "check-" + counter++;
        ada.say("lobby", id, "still here");
        assertThat(bob.expect("message", m -> id.equals(m.get("id").asText())).get("text").asText())
                .isEqualTo("still here");
        ada.close();
        bob.close();
    }

    private static JsonNode errorFor(String raw) {
        try (WsClient c = WsClient.hello(server.chatUri(), "mallory")) {
            c.sendRaw(raw);
            JsonNode error = c.expect("error");
            // The connection survives an error reply.
            c.send(Map.of("type", "ping"));
            c.expect("pong");
            return error;
        }
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
            "not json at all                                        | bad_json",
            "[1,2,3]                                                | bad_json",
            "{\"type\":\"join\",\"room\":\"a\"} trailing            | bad_json",
            "{\"type\":\"join\",\"room\":\"a\",\"room\":\"b\"}      | bad_json",
            "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}}}}}}}}}} | bad_json",
            "{\"room\":\"lobby\"}                                   | unknown_type",
            "{\"type\":\"shout\"}                                   | unknown_type",
            "{\"type\":42}                                          | unknown_type",
            "{\"type\":\"join\"}                                    | bad_request",
            "{\"type\":\"join\",\"room\":5}                         | bad_request",
            "{\"type\":\"join\",\"room\":\"x\",\"since\":\"5\"}     | bad_request",
            "{\"type\":\"join\",\"room\":\"x\",\"since\":1.5}       | bad_request",
            "{\"type\":\"join\",\"room\":\"x\",\"since\":99999999999999999999999} | bad_request",
            "{\"type\":\"join\",\"room\":\"x\",\"since\":-1}        | invalid_since",
            "{\"type\":\"join\",\"room\":\"no spaces\"}             | invalid_room",
            "{\"type\":\"join\",\"room\":\"\"}                      | invalid_room",
            "{\"type\":\"send\",\"room\":\"lobby\",\"id\":\"1\",\"text\":\"hi\"} | not_member",
            "{\"type\":\"leave\",\"room\":\"lobby\"}                | not_member",
            "{\"type\":\"history\",\"room\":\"lobby\"}              | not_member",
            "{\"type\":\"hello\",\"name\":\"again\"}                | already_greeted",
            "{\"type\":\"ping\",\"ref\":{\"deep\":1}}               | bad_request",
    })
    void malformedRequestsGetTheirErrorCode(String raw, String code) {
        assertThat(errorFor(raw).get("code").asText()).isEqualTo(code);
    }

    @Test
    void errorsNameTheRequestAndEchoItsRef() {
        JsonNode error = errorFor("{\"type\":\"leave\",\"room\":\"nowhere\",\"ref\":\"r-9\"}");

        assertThat(error.get("code").asText()).isEqualTo("not_member");
        assertThat(error.get("request").asText()).isEqualTo("leave");
        assertThat(error.get("room").asText()).isEqualTo("nowhere");
        assertThat(error.get("ref").asText()).isEqualTo("r-9");
        assertThat(error.get("message").asText()).isNotBlank();
    }

    @Test
    void requestsBeforeHelloAreRefused() {
        try (WsClient c = WsClient.connect(server.chatUri())) {
            c.send(Map.of("type", "join", "room", "lobby"));
            assertThat(c.expect("error").get("code").asText()).isEqualTo("hello_required");
        }
    }

    @Test
    void badNamesAreRefused() {
        try (WsClient c = WsClient.connect(server.chatUri())) {
            c.send(Map.of("type", "hello", "name", "   "));
            assertThat(c.expect("error").get("code").asText()).isEqualTo("invalid_name");
            c.send(Map.of("type", "hello", "name", "x".repeat(33)));
            assertThat(c.expect("error").get("code").asText()).isEqualTo("invalid_name");
            c.send(Map.of("type", "hello", "name", "bell\u0007"));
            assertThat(c.expect("error").get("code").asText()).isEqualTo("invalid_name");
            c.send(Map.of("type", "hello", "name", "  eve  "));
            assertThat(c.expect("welcome").get("name").asText()).isEqualTo("eve");
        }
    }

    @Test
    void badMessagesAreRefusedWithTheirIdAndNothingIsStored() {
        try (WsClient c = WsClient.hello(server.chatUri(), "mallory")) {
            c.join("lobby");
            c.say("lobby", "long", "x".repeat(101));
            JsonNode tooLong = c.expect("error");
            c.say("lobby", "blank", "   ");
            JsonNode empty = c.expect("error");
            c.say("lobby", "", "text");
            JsonNode badId = c.expect("error");

            assertThat(tooLong.get("code").asText()).isEqualTo("message_too_long");
            assertThat(tooLong.get("id").asText()).isEqualTo("long");
            assertThat(empty.get("code").asText()).isEqualTo("empty_message");
            assertThat(badId.get("code").asText()).isEqualTo("invalid_id");
            assertThat(bob.drain(java.time.Duration.ofMillis(200)))
                    .noneMatch(m -> "message".equals(m.path("type").asText()));
        }
    }

    @Test
    void aFloodingConnectionIsSlowedDownAndEverySendIsStored() {
        try (WsClient flood = WsClient.hello(server.chatUri(), "flood")) {
            flood.join("flood");
            int count = 3000;
            for (int i = 0; i < count; i++) {
                flood.say("flood", "f" + i, "flood " + i);
            }
            List<JsonNode> acks = flood.collect("ack", count);
            assertThat(acks).extracting(a -> a.get("seq").asLong()).doesNotHaveDuplicates().hasSize(count);
        }
    }

    @Test
    void joiningTwiceIsRefused() {
        ada.send(Map.of("type", "join", "room", "lobby"));
        assertThat(ada.expect("error").get("code").asText()).isEqualTo("already_member");
    }

    @Test
    void binaryFrameClosesWith1003() {
        try (WsClient c = WsClient.hello(server.chatUri(), "mallory")) {
            c.socket().sendBinary(ByteBuffer.wrap(new byte[] {1, 2, 3}), true).join();
            assertThat(c.awaitCloseCode()).isEqualTo(1003);
        }
    }

    @Test
    void messageOverTheSizeLimitClosesWith1009() {
        try (WsClient c = WsClient.hello(server.chatUri(), "mallory")) {
            c.sendRaw("{\"type\":\"ping\",\"pad\":\"" + "x".repeat(5000) + "\"}");
            assertThat(c.awaitCloseCode()).isEqualTo(1009);
        }
    }

    @Test
    void fragmentedMessagesAreReassembled() {
        try (WsClient c = WsClient.hello(server.chatUri(), "frag")) {
            c.join("lobby");
            c.socket().sendText("{\"type\":\"send\",\"room\":\"lob", false).join();
            c.socket().sendText("by\",\"id\":\"f1\",\"text\":\"in ", false).join();
            c.socket().sendText("pieces\"}", true).join();
            assertThat(bob.expect("message", m -> m.get("id").asText().equals("f1")).get("text").asText())
                    .isEqualTo("in pieces");
        }
    }

    @Test
    void fragmentsAddingUpPastTheLimitCloseWith1009() {
        try (WsClient c = WsClient.hello(server.chatUri(), "mallory")) {
            c.socket().sendText("{\"type\":\"ping\",\"pad\":\"" + "x".repeat(3000), false).join();
            c.socket().sendText("x".repeat(3000) + "\"}", true).join();
            assertThat(c.awaitCloseCode()).isEqualTo(1009);
        }
    }

    @Test
    void invalidUtf8ClosesWith1007() throws Exception {
        try (RawSocket raw = new RawSocket(server.port())) {
            assertThat(raw.upgrade()).startsWith("HTTP/1.1 101");
            raw.frame(RawSocket.TEXT, true, new byte[] {'{', '"', (byte) 0xC3, (byte) 0x28, '"', '}'}, true);
            assertThat(raw.awaitClose()).isEqualTo(1007);
        }
    }

    @Test
    void unmaskedClientFrameClosesWith1002() throws Exception {
        try (RawSocket raw = new RawSocket(server.port())) {
            raw.upgrade();
            raw.frame(RawSocket.TEXT, true, "{\"type\":\"ping\"}".getBytes(StandardCharsets.UTF_8), false);
            assertThat(raw.awaitClose()).isEqualTo(1002);
        }
    }

    @Test
    void pingBetweenFragmentsIsAnsweredAndTheMessageStillAssembles() throws Exception {
        try (RawSocket raw = new RawSocket(server.port())) {
            raw.upgrade();
            raw.frame(RawSocket.TEXT, false, "{\"type\":".getBytes(StandardCharsets.UTF_8), true);
            raw.frame(RawSocket.PING, true, "are you there".getBytes(StandardCharsets.UTF_8), true);
            raw.frame(RawSocket.CONTINUATION, true, "\"ping\"}".getBytes(StandardCharsets.UTF_8), true);
            RawSocket.Frame pong = raw.readFrame();
            assertThat(pong.opcode()).isEqualTo(0xA);
            assertThat(pong.text()).isEqualTo("are you there");
            assertThat(raw.readText()).contains("\"type\":\"pong\"");
        }
    }

    @Test
    void continuationWithoutAStartClosesWith1002() throws Exception {
        try (RawSocket raw = new RawSocket(server.port())) {
            raw.upgrade();
            raw.frame(RawSocket.CONTINUATION, true, "x".getBytes(StandardCharsets.UTF_8), true);
            assertThat(raw.awaitClose()).isEqualTo(1002);
        }
    }
}
