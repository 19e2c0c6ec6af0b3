package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class RestartTest {

    @TempDir
    Path dir;

    @Test
    void historyAndSeqContinueAfterARestartOnTheSameDataDirectory() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            ada.join("lobby");
            for (int i = 1; i <= 5; i++) {
                ada.say("lobby", "before-" + i, "before restart " + i);
            }
            ada.collect("ack", 5);
        }

        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            JsonNode joined = ada.join("lobby");
            assertThat(joined.get("seq").asLong()).isEqualTo(5);
            assertThat(joined.get("history")).extracting(m -> m.get("id").asText())
                    .containsExactly("before-1", "before-2", "before-3", "before-4", "before-5");

            ada.say("lobby", "after-1", "after restart");
            assertThat(ada.expect("ack").get("seq").asLong()).isEqualTo(6);
        }
    }

    @Test
    void joinWithSinceReturnsExactlyTheMissedMessages() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            ada.join("lobby");
            for (int i = 1; i <= 8; i++) {
                ada.say("lobby", "m" + i, "text " + i);
            }
            ada.collect("ack", 8);
        }
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            JsonNode joined = bob.join("lobby", 5);
            assertThat(joined.get("history")).extracting(m -> m.get("seq").asLong()).containsExactly(6L, 7L, 8L);
            assertThat(joined.get("complete").asBoolean()).isTrue();

            bob.say("lobby", "b1", "live");
            List<JsonNode> live = bob.collect("message", 1);
            assertThat(live.getFirst().get("seq").asLong()).isEqualTo(9);
        }
    }

    @Test
    void catchingUpOnMoreTextThanOneReplyCarriesIsCompletedByPaging() throws Exception {
        String text = "x".repeat(2000);
        int count = 180;
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            ada.join("lobby");
            for (int i = 1; i <= count; i++) {
                ada.say("lobby", "m" + i, text);
            }
            ada.collect("ack", count);

            try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
                JsonNode joined = bob.join("lobby", 0);
                assertThat(joined.get("complete").asBoolean()).isFalse();
                List<Long> seen = new java.util.ArrayList<>();
                joined.get("history").forEach(m -> seen.add(m.get("seq").asLong()));
                assertThat(seen.size()).isLessThan(count);
                while (true) {
                    bob.send(java.util.Map.of("type", "history", "room", "lobby", "since", seen.getLast(), "limit", 500));
                    JsonNode page = bob.expect("history");
                    if (page.get("messages").isEmpty()) {
                        break;
                    }
                    page.get("messages").forEach(m -> seen.add(m.get("seq").asLong()));
                }
                assertThat(seen).containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, count).boxed().toList());
            }
        }
    }

    @Test
    void joinWithSinceOlderThanMemoryIsReadFromDiskAndFollowedByLiveMessages() throws Exception {
        int count = 450;
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            ada.join("lobby");
            for (int i = 1; i <= count; i++) {
                ada.say("lobby", "m" + i, "text " + i);
            }
            ada.collect("ack", count);

            try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
                bob.send(java.util.Map.of("type", "join", "room", "lobby", "since", 10));
                // Messages sent while bob's history is read from disk must follow it, not overtake it.
                for (int i = 1; i <= 20; i++) {
                    ada.say("lobby", "live" + i, "live " + i);
                }
                JsonNode joined = bob.expect("joined");
                List<Long> history = java.util.stream.StreamSupport.stream(joined.get("history").spliterator(), false)
                        .map(m -> m.get("seq").asLong()).toList();
                assertThat(history.getFirst()).isEqualTo(11);
                long upTo = joined.get("seq").asLong();
                assertThat(history.getLast()).isEqualTo(upTo);
                assertThat(history).hasSize((int) (upTo - 10));
                List<Long> live = bob.collect("message", (int) (count + 20 - upTo)).stream()
                        .map(m -> m.get("seq").asLong()).toList();
                List<Long> seen = new java.util.ArrayList<>(history);
                seen.addAll(live);
                assertThat(seen).containsExactlyElementsOf(
                        java.util.stream.LongStream.rangeClosed(11, count + 20).boxed().toList());
            }
        }
    }
}
