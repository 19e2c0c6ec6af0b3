package io.parley.chat;

import io.parley.config.ServerConfig;
import io.parley.engine.BroadcastEncoder;
import io.parley.engine.Tombstones;
import io.parley.engine.Failure;
import io.parley.engine.LocalBroker;
import io.parley.engine.PublishListener;
import io.parley.engine.Subscriber;
import io.parley.auth.RegisteredNames;
import io.parley.store.AccountStore;
import io.parley.store.HistoryStore;
import io.parley.store.StoredMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A session against the real engine and a real SQLite file, recording what it asks of the transport. */
class ReadPauseTest {

    @TempDir
    Path dir;

    @Test
    void readingPausesWhileTooManySendsAwaitTheirAckAndResumesAsTheyAreAnswered() throws Exception {
        ExecutorService loop = Executors.newSingleThreadExecutor();
        List<String> calls = new CopyOnWriteArrayList<>();
        Subscriber connection = new Subscriber() {
            @Override
            public ExecutorService executor() {
                return loop;
            }

            @Override
            public void deliver(byte[] frame) { }

            @Override
            public void flush() { }
        };
        ReadControl reading = new ReadControl() {
            @Override
            public void pauseReading() {
                calls.add("pause");
            }

            @Override
            public void resumeReading() {
                calls.add("resume");
            }
        };
        BroadcastEncoder encoder = new BroadcastEncoder() {
            @Override
            public byte[] message(StoredMessage m) {
                return new byte[0];
            }

            @Override
            public byte[] presence(String room, int members, List<String> joined, List<String> left) {
                return new byte[0];
            }

            @Override
            public byte[] tombstones(Tombstones t) {
                return new byte[0];
            }
        };
        int count = ChatSession.MAX_IN_FLIGHT + 10;
        CountDownLatch stored = new CountDownLatch(count);
        try (HistoryStore store = HistoryStore.openSqlite(dir, false);
             AccountStore accounts = AccountStore.openSqlite(dir, Duration.ofSeconds(5));
             RoomAccess rooms = new RoomAccess(accounts.rooms(), true, "test")) {
            LocalBroker broker = new LocalBroker(store, encoder, 10, 0);
            // The pause is what this checks; rate limits would refuse the burst before it.
            ServerConfig config = ServerConfig.defaults()
                    .withAdmission(ServerConfig.defaults().admission().withoutRateLimits());
            ChatSession session = new ChatSession(broker,
                    new RoomRequests(broker, config, new RateLimits(config.admission()), new RegisteredNames(), rooms), config, connection,
                    reading, "s-1", null, null);
            PublishListener counting = new PublishListener() {
                @Override
                public void stored(StoredMessage message) {
                    stored.countDown();
                }

                @Override
                public void failed(Failure failure) {
                    throw new AssertionError(failure);
                }
            };
            loop.submit(() -> {
                session.hello("ada");
                session.join("lobby", null, new io.parley.engine.JoinListener() {
                    @Override
                    public void joined(int members, io.parley.engine.Replay replay) { }

                    @Override
                    public void failed(Failure failure) { }
                });
                // All sent in one go, as from one read of a flooding socket: no ack can come in between.
                for (int i = 0; i < count; i++) {
                    session.send("lobby", "m" + i, "text " + i, counting);
                }
                assertThat(calls).containsExactly("pause");
            }).get();
            assertThat(stored.await(10, TimeUnit.SECONDS)).isTrue();
            loop.submit(() -> { }).get();
            broker.close();
        } finally {
            loop.shutdownNow();
        }
        assertThat(calls).containsExactly("pause", "resume");
    }
}
