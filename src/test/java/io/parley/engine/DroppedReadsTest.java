package io.parley.engine;

import io.parley.store.HistoryStore;
import io.parley.store.StoredMessage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Reads from disk through the engine, counted where they happen, in the store: those of a connection
 * that closed never start, and a connection cannot queue more than its share.
 */
class DroppedReadsTest {

    private static final String ROOM = "archive";

    @TempDir
    Path dir;

    /** The SQLite store, counting the read queries that reach it. */
    static final class CountingStore implements HistoryStore {
        private final HistoryStore store;
        private final AtomicLong reads = new AtomicLong();

        CountingStore(HistoryStore store) {
            this.store = store;
        }

        long reads() {
            return reads.get();
        }

        @Override
        public RoomTail loadTail(String room, int limit) {
            return store.loadTail(room, limit);
        }

        @Override
        public StoredMessage findSent(String room, String user, String id) {
            return store.findSent(room, user, id);
        }

        @Override
        public void append(List<StoredMessage> batch) {
            store.append(batch);
        }

        @Override
        public void prune(String room, long upTo) {
            store.prune(room, upTo);
        }

        @Override
        public List<Long> tombstone(String room, long after, long upTo, String by, long at) {
            return store.tombstone(room, after, upTo, by, at);
        }

        @Override
        public List<StoredMessage> after(String room, long since, long upTo, int limit) {
            reads.incrementAndGet();
            return store.after(room, since, upTo, limit);
        }

        @Override
        public List<StoredMessage> before(String room, long before, int limit) {
            reads.incrementAndGet();
            return store.before(room, before, limit);
        }

        @Override
        public List<StoredMessage> latest(String room, int limit) {
            reads.incrementAndGet();
            return store.latest(room, limit);
        }

        @Override
        public List<RoomActivity> rooms(int limit) {
            reads.incrementAndGet();
            return store.rooms(limit);
        }

        @Override
        public void close() {
            store.close();
        }
    }

    private static CountingStore filled(Path dir) throws Exception {
        CountingStore store = new CountingStore(HistoryStore.openSqlite(dir, false));
        List<StoredMessage> batch = new ArrayList<>();
        long now = System.currentTimeMillis();
        for (int seq = 1; seq <= 3000; seq++) {
            batch.add(new StoredMessage(ROOM, seq, "m" + seq, "guest:filler", "filler", "x".repeat(100), now));
        }
        store.append(batch);
        return store;
    }

    @Test
    void theQueuedReadsOfAClosedAskerNeverReachTheStore() throws Exception {
        try (CountingStore store = filled(dir)) {
            LocalBroker broker = new LocalBroker(store, new FanOutTest.CountingEncoder(), 50, 0);
            List<ReadQueue.Asker> gone = new ArrayList<>();
            for (int a = 0; a < 16; a++) {
                ReadQueue.Asker asker = broker.asker();
                gone.add(asker);
                for (int i = 0; i < Replays.READS_PER_ASKER; i++) {
                    broker.history(asker, ROOM, 600 + i * 10L, -1, 500);
                }
            }
            gone.forEach(ReadQueue.Asker::close);
            long atClose = store.reads();

            // A fresh asker's read: the closed askers' queued reads are gone, so nothing is ahead of it.
            List<StoredMessage> read = broker.history(broker.asker(), ROOM, -1, -1, 10).get(10, TimeUnit.SECONDS);
            assertThat(read).hasSize(10);
            long after = store.reads();
            System.out.printf("dropped reads: %d queued, %d had started when their askers closed, %d after%n",
                    16 * Replays.READS_PER_ASKER, atClose, after - atClose);
            assertThat(atClose).as("reads started before the close").isLessThan(16L * Replays.READS_PER_ASKER);
            // The fresh read, and at most one read each reader thread had taken when the askers closed.
            assertThat(after - atClose).as("reads started after the close").isLessThanOrEqualTo(3);
            broker.close();
        }
    }

    @Test
    void anAskerCannotQueueMoreThanItsShare() throws Exception {
        try (CountingStore store = filled(dir)) {
            LocalBroker broker = new LocalBroker(store, new FanOutTest.CountingEncoder(), 50, 0);
            ReadQueue.Asker greedy = broker.asker();
            // The readers take some while this runs; 3 x the share cannot all fit.
            assertThatThrownBy(() -> {
                for (int i = 0; i < 3 * Replays.READS_PER_ASKER; i++) {
                    broker.history(greedy, ROOM, 600 + i, -1, 500);
                }
            }).isInstanceOfSatisfying(Refused.class,
                    e -> assertThat(e.failure()).isEqualTo(Failure.OVERLOADED));
            greedy.close();
            assertThat(broker.history(broker.asker(), ROOM, -1, -1, 5).get(10, TimeUnit.SECONDS)).hasSize(5);
            broker.close();
        }
    }
}
