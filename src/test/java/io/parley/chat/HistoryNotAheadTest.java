package io.parley.chat;

import io.parley.config.ServerConfig;
import io.parley.engine.BroadcastEncoder;
import io.parley.engine.Tombstones;
import io.parley.engine.Failure;
import io.parley.engine.JoinListener;
import io.parley.engine.LocalBroker;
import io.parley.engine.PublishListener;
import io.parley.engine.Replay;
import io.parley.engine.Subscriber;
import io.parley.auth.RegisteredNames;
import io.parley.store.AccountStore;
import io.parley.store.HistoryStore;
import io.parley.store.StoredMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A history reply and the live stream of the same room must not both carry a message. History is read
 * off the event loop, so it can find a message that is stored but whose fan-out has not reached the
 * connection yet; this pins that moment down by keeping the connection's loop busy while the message is
 * stored and read.
 */
class HistoryNotAheadTest {

    @TempDir
    Path dir;

    @Test
    void aHistoryReplyLeavesToTheLiveStreamWhatTheConnectionHasNotBeenHandedYet() throws Exception {
        ExecutorService loop = Executors.newSingleThreadExecutor();
        ExecutorService elsewhere = Executors.newSingleThreadExecutor();
        List<String> delivered = new CopyOnWriteArrayList<>();
        Subscriber connection = new Subscriber() {
            @Override
            public ExecutorService executor() {
                return loop;
            }

            @Override
            public void deliver(byte[] frame) {
                delivered.add(new String(frame, StandardCharsets.UTF_8));
            }

            @Override
            public void flush() { }
        };
        BroadcastEncoder encoder = new BroadcastEncoder() {
            @Override
            public byte[] message(StoredMessage m) {
                return ("message " + m.seq()).getBytes(StandardCharsets.UTF_8);
            }

            @Override
            public byte[] presence(String room, int members, List<String> joined, List<String> left) {
                return "presence".getBytes(StandardCharsets.UTF_8);
            }

            @Override
            public byte[] tombstones(Tombstones t) {
                return "tombstones".getBytes(StandardCharsets.UTF_8);
            }
        };
        ServerConfig config = ServerConfig.defaults();
        try (HistoryStore store = HistoryStore.openSqlite(dir, false);
             AccountStore accounts = AccountStore.openSqlite(dir, Duration.ofSeconds(5));
             RoomAccess rooms = new RoomAccess(accounts.rooms(), true, "test")) {
            LocalBroker broker = new LocalBroker(store, encoder, 10, 0);
            ChatSession session = new ChatSession(broker,
                    new RoomRequests(broker, config, new RateLimits(config.admission()), new RegisteredNames(), rooms), config, connection,
                    new ReadControl() {
                        @Override
                        public void pauseReading() { }

                        @Override
                        public void resumeReading() { }
                    }, "s-1", null, null);
            CompletableFuture<Replay> joined = new CompletableFuture<>();
            loop.submit(() -> {
                session.hello("ada");
                session.join("lobby", null, new JoinListener() {
                    @Override
                    public void joined(int members, Replay replay) {
                        joined.complete(replay);
                    }

                    @Override
                    public void failed(Failure failure) {
                        joined.completeExceptionally(new AssertionError(failure));
                    }
                });
            }).get();
            assertThat(joined.get(10, TimeUnit.SECONDS).lastSeq()).isZero();
            publish(broker, elsewhere, "m1");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!delivered.contains("message 1") && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }

            List<Long> reply = loop.submit(() -> {
                // The loop is busy here: message 2's fan-out task waits behind this one.
                publish(broker, elsewhere, "m2");
                List<StoredMessage> read = session.history("lobby", null, 0L, 10).get(10, TimeUnit.SECONDS);
                assertThat(read).extracting(StoredMessage::seq).containsExactly(1L, 2L);
                return session.notAheadOfLive("lobby", read).stream().map(StoredMessage::seq).toList();
            }).get(20, TimeUnit.SECONDS);
            loop.submit(() -> { }).get();

            assertThat(reply).as("the history reply").containsExactly(1L);
            assertThat(delivered).as("the live stream").filteredOn(f -> f.startsWith("message"))
                    .containsExactly("message 1", "message 2");
            broker.close();
        } finally {
            loop.shutdownNow();
            elsewhere.shutdownNow();
        }
    }

    /** Sends a message as someone else and waits until it is stored. */
    private static void publish(LocalBroker broker, ExecutorService replyOn, String id) throws Exception {
        CompletableFuture<StoredMessage> stored = new CompletableFuture<>();
        broker.publish(replyOn, "lobby", id, "guest:bob", "bob", "text " + id, new PublishListener() {
            @Override
            public void stored(StoredMessage message) {
                stored.complete(message);
            }

            @Override
            public void failed(Failure failure) {
                stored.completeExceptionally(new AssertionError(failure));
            }
        });
        stored.get(10, TimeUnit.SECONDS);
    }
}
