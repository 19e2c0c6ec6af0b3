package io.parley.store;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What every {@link HistoryStore} promises the engine, run against each implementation by a subclass
 * that says how to open one (a fresh, empty store) and how to open it again on the same data.
 */
abstract class HistoryStoreContract {

    private final List<HistoryStore> opened = new ArrayList<>();

    /** A new, empty store. Each call within one test opens the same data. */
    protected abstract HistoryStore openStore();

    private HistoryStore store() {
        HistoryStore s = openStore();
        opened.add(s);
        return s;
    }

    @AfterEach
    void closeStores() {
        opened.forEach(HistoryStore::close);
    }

    static StoredMessage message(String room, long seq) {
        return new StoredMessage(room, seq, "id-" + seq, "guest:ann", "ann", "text " + seq, 1_795_305_600_000L + seq);
    }

    static List<StoredMessage> messages(String room, long from, long to) {
        return LongStream.rangeClosed(from, to).mapToObj(seq -> message(room, seq)).toList();
    }

    @Test
    void aNewRoomHasNoMessagesAndStartsAtSeqOne() {
        HistoryStore s = store();
        assertThat(s.loadTail("new", 10)).isEqualTo(new HistoryStore.RoomTail(0, 1, List.of()));
        assertThat(s.latest("new", 10)).isEmpty();
        assertThat(s.findSent("new", "guest:ann", "id-1")).isNull();
    }

    @Test
    void theRoomsAreListedMostRecentlyWrittenFirstAndKeptAcrossARestart() {
        HistoryStore s = store();
        assertThat(s.rooms(10)).isEmpty();
        s.append(messages("lobby", 1, 10));
        s.append(messages("other", 1, 3));
        // One batch of two rooms, the later message first: each room's row takes its own newest.
        s.append(List.of(new StoredMessage("late", 2, "id-2", "guest:ann", "ann", "later", 1_795_305_600_500L),
                new StoredMessage("lobby", 11, "id-11", "guest:ann", "ann", "text", 1_795_305_600_011L),
                new StoredMessage("late", 1, "id-1", "guest:ann", "ann", "earlier", 1_795_305_600_400L)));
        List<HistoryStore.RoomActivity> expected = List.of(
                new HistoryStore.RoomActivity("late", 2, 1_795_305_600_500L),
                new HistoryStore.RoomActivity("lobby", 11, 1_795_305_600_011L),
                new HistoryStore.RoomActivity("other", 3, 1_795_305_600_003L));
        assertThat(s.rooms(10)).isEqualTo(expected);
        assertThat(s.rooms(2)).isEqualTo(expected.subList(0, 2));
        s.prune("lobby", 5);
        assertThat(store().rooms(10)).as("pruning and reopening keep the list").isEqualTo(expected);
    }

    @Test
    void readsReturnRangesOldestFirstWithinTheirLimits() {
        HistoryStore s = store();
        s.append(messages("lobby", 1, 10));
        s.append(messages("other", 1, 3));
        assertThat(s.after("lobby", 3, 7, 100)).isEqualTo(messages("lobby", 4, 7));
        assertThat(s.after("lobby", 3, Long.MAX_VALUE, 2)).isEqualTo(messages("lobby", 4, 5));
        assertThat(s.before("lobby", 6, 3)).isEqualTo(messages("lobby", 3, 5));
        assertThat(s.before("lobby", 2, 10)).isEqualTo(messages("lobby", 1, 1));
        assertThat(s.latest("lobby", 4)).isEqualTo(messages("lobby", 7, 10));
        assertThat(s.latest("other", 100)).isEqualTo(messages("other", 1, 3));
    }

    @Test
    void textAndNamesComeBackExactly() {
        HistoryStore s = store();
        StoredMessage m = new StoredMessage("r\u00e9union \uD83D\uDE00", 1, "id \u2603", "tok:user'1", "Z\u00fc\"; --",
                "line\nnext \t tab \uD83D\uDC4D " + "x".repeat(5000), 1_795_305_600_123L);
        s.append(List.of(m));
        assertThat(s.latest(m.room(), 1)).containsExactly(m);
        assertThat(s.findSent(m.room(), m.user(), m.id())).isEqualTo(m);
    }

    @Test
    void aDeletedMessageKeepsItsPlaceAsATombstoneWithoutItsText() {
        HistoryStore s = store();
        s.append(messages("lobby", 1, 5));
        long at = 1_795_305_700_000L;
        assertThat(s.tombstone("lobby", 1, 2, "mod-1", at)).containsExactly(2L);
        StoredMessage tombstone = message("lobby", 2).tombstone("mod-1", at);
        assertThat(tombstone.text()).isEmpty();
        assertThat(s.after("lobby", 0, Long.MAX_VALUE, 10)).containsExactly(message("lobby", 1), tombstone,
                message("lobby", 3), message("lobby", 4), message("lobby", 5));
        assertThat(s.before("lobby", 3, 1)).containsExactly(tombstone);
        assertThat(s.latest("lobby", 4).getFirst()).isEqualTo(tombstone);
        assertThat(s.loadTail("lobby", 10).recent()).contains(tombstone);
        assertThat(s.findSent("lobby", "guest:ann", "id-2")).isEqualTo(tombstone);
        // Deleted already, or never stored: nothing to do.
        assertThat(s.tombstone("lobby", 1, 2, "mod-2", at + 1)).isEmpty();
        assertThat(s.tombstone("lobby", 9, 10, "mod-2", at + 1)).isEmpty();
        assertThat(s.tombstone("other", 0, 5, "mod-2", at + 1)).isEmpty();
    }

    @Test
    void clearingTombstonesWhatIsLeftUpToASeqAndKeepsEarlierDeletions() {
        HistoryStore s = store();
        s.append(messages("lobby", 1, 6));
        s.tombstone("lobby", 2, 3, "mod-1", 1000);
        assertThat(s.tombstone("lobby", 0, 5, "mod-2", 2000)).containsExactly(1L, 2L, 4L, 5L);
        List<StoredMessage> all = s.after("lobby", 0, Long.MAX_VALUE, 10);
        assertThat(all).extracting(StoredMessage::deletedBy).containsExactly("mod-2", "mod-2", "mod-1", "mod-2",
                "mod-2", null);
        assertThat(all.subList(0, 5)).allSatisfy(m -> assertThat(m.text()).isEmpty());
        assertThat(all.get(5)).isEqualTo(message("lobby", 6));
        // The room goes on where it was: a tombstone is still a seq.
        assertThat(s.loadTail("lobby", 2)).isEqualTo(new HistoryStore.RoomTail(6, 1,
                List.of(all.get(4), all.get(5))));
    }

    @Test
    void aTombstoneSurvivesReopening() {
        HistoryStore s = store();
        s.append(messages("lobby", 1, 3));
        s.tombstone("lobby", 0, 2, "mod-1", 1000);
        s.close();
        opened.remove(s);
        HistoryStore again = store();
        assertThat(again.after("lobby", 0, 10, 10)).extracting(StoredMessage::deleted).containsExactly(true, true,
                false);
        assertThat(again.after("lobby", 0, 10, 10)).extracting(StoredMessage::text).containsExactly("", "", "text 3");
    }

    @Test
    void loadTailGivesTheLastSeqTheOldestSeqAndTheRecentMessages() {
        HistoryStore s = store();
        s.append(messages("lobby", 1, 5));
        s.append(messages("lobby", 6, 8));
        assertThat(s.loadTail("lobby", 3)).isEqualTo(new HistoryStore.RoomTail(8, 1, messages("lobby", 6, 8)));
        assertThat(s.loadTail("lobby", 100)).isEqualTo(new HistoryStore.RoomTail(8, 1, messages("lobby", 1, 8)));
        assertThatThrownBy(() -> s.loadTail("lobby", 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aReopenedStoreContinuesWhereItStopped() {
        HistoryStore first = store();
        first.append(messages("lobby", 1, 4));
        first.close();
        opened.remove(first);
        HistoryStore second = store();
        assertThat(second.loadTail("lobby", 2)).isEqualTo(new HistoryStore.RoomTail(4, 1, messages("lobby", 3, 4)));
    }

    @Test
    void findSentFindsAMessageByRoomUserAndClientIdOnly() {
        HistoryStore s = store();
        s.append(messages("lobby", 1, 3));
        assertThat(s.findSent("lobby", "guest:ann", "id-2")).isEqualTo(message("lobby", 2));
        assertThat(s.findSent("lobby", "guest:bob", "id-2")).isNull();
        assertThat(s.findSent("elsewhere", "guest:ann", "id-2")).isNull();
        assertThat(s.findSent("lobby", "guest:ann", "id-9")).isNull();
    }

    @Test
    void pruneDeletesUpToAndIncludingAndKeepsTheLastSeq() {
        HistoryStore s = store();
        s.append(messages("lobby", 1, 10));
        s.prune("lobby", 4);
        assertThat(s.after("lobby", 0, Long.MAX_VALUE, 100)).isEqualTo(messages("lobby", 5, 10));
        assertThat(s.findSent("lobby", "guest:ann", "id-3")).isNull();
        HistoryStore.RoomTail tail = s.loadTail("lobby", 2);
        assertThat(tail.firstSeq()).isEqualTo(5);
        assertThat(tail.lastSeq()).isEqualTo(10);
    }

    @Test
    void anEmptyBatchStoresNothingAndDoesNotFail() {
        HistoryStore s = store();
        s.append(List.of());
        assertThat(s.loadTail("lobby", 1).lastSeq()).isZero();
    }

    @Test
    void aFailedAppendStoresNothingOfItsBatch() {
        HistoryStore s = store();
        s.append(messages("lobby", 1, 2));
        // seq 3 and 4 are new, then seq 2 again: the batch breaks the room's key, so none of it may stay.
        List<StoredMessage> batch = List.of(message("lobby", 3), message("lobby", 4),
                new StoredMessage("lobby", 2, "other", "guest:bob", "bob", "clash", 1));
        assertThatThrownBy(() -> s.append(batch)).isInstanceOf(StoreException.class);
        assertThat(s.latest("lobby", 100)).isEqualTo(messages("lobby", 1, 2));
        assertThat(s.loadTail("lobby", 10).lastSeq()).isEqualTo(2);
        // And the store still works.
        s.append(messages("lobby", 3, 4));
        assertThat(s.latest("lobby", 100)).isEqualTo(messages("lobby", 1, 4));
    }

    /**
     * A reader racing the writer sees whole batches only: every read of the room holds a multiple of
     * the batch size, never a batch half written.
     */
    @Test
    void readersSeeOnlyCommittedBatches() throws Exception {
        HistoryStore s = store();
        int batchSize = 25;
        int batches = 40;
        AtomicBoolean writing = new AtomicBoolean(true);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
            Future<List<Integer>> reader = threads.submit(() -> {
                List<Integer> sizes = new ArrayList<>();
                while (writing.get()) {
                    sizes.add(s.latest("lobby", 10_000).size());
                    sizes.add(s.after("lobby", 0, Long.MAX_VALUE, 10_000).size());
                }
                return sizes;
            });
            Future<?> writer = threads.submit(() -> {
                try {
                    for (int b = 0; b < batches; b++) {
                        s.append(messages("lobby", b * batchSize + 1L, (b + 1L) * batchSize));
                    }
                } finally {
                    writing.set(false);
                }
                return null;
            });
            writer.get(60, TimeUnit.SECONDS);
            List<Integer> sizes = reader.get(60, TimeUnit.SECONDS);
            assertThat(sizes).isNotEmpty().allSatisfy(n -> assertThat(n % batchSize).as("rows seen: %d", n).isZero());
            assertThat(s.latest("lobby", 10_000)).hasSize(batchSize * batches);
        } finally {
            threads.shutdownNow();
        }
    }
}
