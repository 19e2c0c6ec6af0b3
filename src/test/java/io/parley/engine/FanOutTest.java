package io.parley.engine;

import io.parley.store.HistoryStore;
import io.parley.store.StoredMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** The engine against a real SQLite file, with subscribers that record what they are handed. */
class FanOutTest {

    @TempDir
    Path dir;

    /** Records deliveries; confined to its executor like a real connection. */
    static final class Recorder implements Subscriber {
        final ExecutorService loop;
        final List<byte[]> frames = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger flushes = new AtomicInteger();

        Recorder(ExecutorService loop) {
            this.loop = loop;
        }

        @Override
        public ExecutorService executor() {
            return loop;
        }

        @Override
        public void deliver(byte[] frame) {
            frames.add(frame);
        }

        @Override
        public void flush() {
            flushes.incrementAndGet();
        }
    }

    static final class CountingEncoder implements BroadcastEncoder {
        final AtomicInteger messages = new AtomicInteger();

        @Override
        public byte[] message(StoredMessage m) {
            messages.incrementAndGet();
            return (m.room() + "#" + m.seq() + ":" + m.text()).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public byte[] presence(String room, int members, List<String> joined, List<String> left) {
            return ("presence " + room + " " + members).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public byte[] tombstones(Tombstones t) {
            return ("tombstones " + t.room() + " " + t.upTo()).getBytes(StandardCharsets.UTF_8);
        }
    }

    static final JoinListener IGNORE_JOIN = new JoinListener() {
        @Override
        public void joined(int members, Replay replay) { }

        @Override
        public void failed(Failure failure) { }
    };

    @Test
    void aBroadcastIsEncodedOnceAndTheSameBytesReachEveryMember() throws Exception {
        List<ExecutorService> loops = List.of(Executors.newSingleThreadExecutor(), Executors.newSingleThreadExecutor());
        CountingEncoder encoder = new CountingEncoder();
        try (HistoryStore store = HistoryStore.openSqlite(dir, false)) {
            LocalBroker broker = new LocalBroker(store, encoder, 50, 0);
            List<Recorder> members = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                Recorder r = new Recorder(loops.get(i % 2));
                members.add(r);
                r.loop.submit(() -> broker.subscribe("hall", r, "m" + members.indexOf(r), "m" + members.indexOf(r), -1, broker.asker(), IGNORE_JOIN)).get();
            }
            Recorder publisher = members.getFirst();
            int count = 100;
            CountDownLatch stored = new CountDownLatch(count);
            PublishListener onStored = new PublishListener() {
                @Override
                public void stored(StoredMessage message) {
                    stored.countDown();
                }

                @Override
                public void failed(Failure failure) {
                    throw new AssertionError(failure);
                }
            };
            publisher.loop.submit(() -> {
                for (int i = 0; i < count; i++) {
                    broker.publish(publisher.loop, "hall", "id" + i, "guest:m0", "m0", "text " + i, onStored);
                }
            }).get();
            assertThat(stored.await(10, TimeUnit.SECONDS)).isTrue();
            // The acks run on the publisher's loop; the other loop's task for the same batch may not be
            // posted yet. Closing the engine first waits for the sequencer to post everything; a task
            // queued on each loop after that runs after every delivery.
            broker.close();
            for (ExecutorService loop : loops) {
                loop.submit(() -> { }).get();
            }

            assertThat(encoder.messages).hasValue(count);
            Set<byte[]> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
            for (Recorder r : members) {
                List<byte[]> messages = r.frames.stream()
                        .filter(f -> !new String(f, StandardCharsets.UTF_8).startsWith("presence")).toList();
                assertThat(messages).hasSize(count);
                distinct.addAll(messages);
            }
            assertThat(distinct).as("one byte array per message, shared by all members").hasSize(count);
        } finally {
            loops.forEach(ExecutorService::shutdownNow);
        }
    }
}
