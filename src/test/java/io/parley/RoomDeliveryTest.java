package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

class RoomDeliveryTest {

    @TempDir
    Path dir;

    @Test
    void everyMemberGetsEveryMessageInSeqOrderTheSenderIncluded() throws Exception {
        int clients = 12;
        int perClient = 25;
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED)) {
            List<WsClient> members = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                WsClient c = WsClient.hello(server.chatUri(), "user" + i);
                c.join("lobby");
                members.add(c);
            }
            ExecutorService senders = Executors.newFixedThreadPool(clients);
            List<Future<?>> sent = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                WsClient c = members.get(i);
                int sender = i;
                sent.add(senders.submit(() -> {
                    for (int n = 0; n < perClient; n++) {
                        c.say("lobby", "u" + sender + "-" + n, "message " + n + " from user" + sender);
                    }
                }));
            }
            for (Future<?> f : sent) {
                f.get();
            }
            senders.shutdown();

            int total = clients * perClient;
            for (int i = 0; i < clients; i++) {
                List<JsonNode> received = members.get(i).collect("message", total);
                List<Long> seqs = received.stream().map(m -> m.get("seq").asLong()).toList();
                assertThat(seqs).as("seqs seen by user%d", i).isSorted().doesNotHaveDuplicates();
                assertThat(seqs.getFirst()).isEqualTo(1);
                assertThat(seqs.getLast()).isEqualTo(total);
                Set<String> ids = new HashSet<>();
                received.forEach(m -> ids.add(m.get("id").asText()));
                assertThat(ids).hasSize(total);
                // Each sender's own messages arrive in the order it sent them.
                List<String> own = received.stream().filter(m -> m.get("from").asText().equals("user3"))
                        .map(m -> m.get("id").asText()).toList();
                assertThat(own).containsExactlyElementsOf(
                        java.util.stream.IntStream.range(0, perClient).mapToObj(n -> "u3-" + n).toList());
            }
            for (WsClient c : members) {
                c.close();
            }
        }
    }

    @Test
    void longMultiByteMessagesReachEveryMemberIntact() throws Exception {
        String text = "\u00e9\u4e2d\uD83D\uDE00".repeat(500);
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED)) {
            List<WsClient> members = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                WsClient c = WsClient.hello(server.chatUri(), "user" + i);
                c.join("lobby");
                members.add(c);
            }
            members.getFirst().say("lobby", "long", text);
            members.getFirst().say("lobby", "short", "and a short one");
            for (WsClient c : members) {
                List<JsonNode> got = c.collect("message", 2);
                assertThat(got.get(0).get("text").asText()).isEqualTo(text);
                assertThat(got.get(1).get("text").asText()).isEqualTo("and a short one");
                c.close();
            }
        }
    }

    @Test
    void senderIsAcknowledgedWithTheSeqItsMessageGot() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            ada.join("lobby");
            ada.say("lobby", "first", "hello");

            JsonNode ack = ada.expect("ack");
            assertThat(ack.get("id").asText()).isEqualTo("first");
            assertThat(ack.get("room").asText()).isEqualTo("lobby");
            assertThat(ack.get("seq").asLong()).isEqualTo(1);
            assertThat(ack.get("time").asLong()).isPositive();
        }
    }

    @Test
    void messageCarriesRoomSeqIdSenderTextAndServerTime() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            ada.join("lobby");
            bob.join("lobby");
            long before = System.currentTimeMillis();
            ada.say("lobby", "m1", "hi <b>bob</b> \uD83D\uDE00");

            JsonNode m = bob.expect("message");
            assertThat(m.get("room").asText()).isEqualTo("lobby");
            assertThat(m.get("seq").asLong()).isEqualTo(1);
            assertThat(m.get("id").asText()).isEqualTo("m1");
            assertThat(m.get("from").asText()).isEqualTo("ada");
            assertThat(m.get("text").asText()).isEqualTo("hi <b>bob</b> \uD83D\uDE00");
            assertThat(m.get("time").asLong()).isBetween(before - 1000, System.currentTimeMillis() + 1000);
        }
    }

    @Test
    void joinedCarriesRecentHistoryAndMemberCountAndPresenceIsAnnounced() throws Exception {
        // A closed connection's left comes after the presence grace (PresenceLeaseTest): a short one here.
        try (TestServer server = TestServer.start(dir,
                c -> TestServer.UNTHROTTLED.apply(c).withPresenceGrace(java.time.Duration.ofMillis(200)));
             WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            ada.join("lobby");
            for (int i = 1; i <= 3; i++) {
                ada.say("lobby", "m" + i, "text " + i);
                ada.expect("ack");
            }
            try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
                JsonNode joined = bob.join("lobby");
                assertThat(joined.get("seq").asLong()).isEqualTo(3);
                assertThat(joined.get("members").asInt()).isEqualTo(2);
                assertThat(joined.get("complete").asBoolean()).isTrue();
                assertThat(joined.get("history")).extracting(h -> h.get("seq").asLong()).containsExactly(1L, 2L, 3L);
                assertThat(joined.get("history").get(0).get("type").asText()).isEqualTo("message");

                JsonNode presence = ada.expect("presence", p -> p.get("joined").toString().contains("bob"));
                assertThat(presence.get("members").asInt()).isEqualTo(2);
            }
            JsonNode left = ada.expect("presence", p -> p.get("left").toString().contains("bob"));
            assertThat(left.get("members").asInt()).isEqualTo(1);
        }
    }

    @Test
    void aConnectionCanBeInManyRoomsAndRoomsAreNumberedSeparately() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            ada.join("red");
            ada.join("blue");
            bob.join("blue");
            ada.say("red", "r1", "in red");
            ada.say("blue", "b1", "in blue");

            JsonNode blue = bob.expect("message");
            assertThat(blue.get("room").asText()).isEqualTo("blue");
            assertThat(blue.get("seq").asLong()).isEqualTo(1);
            assertThat(bob.drain(java.time.Duration.ofMillis(300)))
                    .noneMatch(m -> "red".equals(m.path("room").asText()));
            List<JsonNode> adaGot = ada.collect("message", 2);
            assertThat(adaGot).extracting(m -> m.get("room").asText() + "#" + m.get("seq").asLong())
                    .containsExactlyInAnyOrder("red#1", "blue#1");
        }
    }

    @Test
    void afterLeavingNoMoreMessagesOfThatRoomArrive() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada");
             WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            ada.join("lobby");
            bob.join("lobby");
            bob.send(Map.of("type", "leave", "room", "lobby", "ref", 7));
            JsonNode left = bob.expect("left");
            assertThat(left.get("ref").asInt()).isEqualTo(7);

            ada.say("lobby", "m1", "anyone?");
            ada.expect("ack");
            assertThat(bob.drain(java.time.Duration.ofMillis(300))).noneMatch(m -> "message".equals(m.path("type").asText()));
        }
    }

    @Test
    void historyRequestPagesBackwardsAndForwards() throws Exception {
        try (TestServer server = TestServer.start(dir, TestServer.UNTHROTTLED);
             WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            ada.join("lobby");
            for (int i = 1; i <= 10; i++) {
                ada.say("lobby", "m" + i, "text " + i);
            }
            ada.collect("ack", 10);

            ada.send(Map.of("type", "history", "room", "lobby", "before", 6, "limit", 3));
            JsonNode back = ada.expect("history");
            assertThat(back.get("messages")).extracting(m -> m.get("seq").asLong()).containsExactly(3L, 4L, 5L);

            ada.send(Map.of("type", "history", "room", "lobby", "since", 8));
            JsonNode forward = ada.expect("history");
            assertThat(forward.get("messages")).extracting(m -> m.get("seq").asLong()).containsExactly(9L, 10L);
        }
    }
}
