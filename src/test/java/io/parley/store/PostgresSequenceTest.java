package io.parley.store;

import io.parley.store.PostgresHistoryStore.Draft;
import io.parley.store.PostgresHistoryStore.Sequenced;
import io.parley.testing.PostgresProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link PostgresHistoryStore#sequence}, the store operation of several nodes: two store instances
 * stand for two nodes on one PostgreSQL, each with several threads writing the same rooms at once.
 */
class PostgresSequenceTest {

    private static PostgresProcess postgres;
    private PostgresHistoryStore nodeA;
    private PostgresHistoryStore nodeB;
    private String url;

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

    @BeforeEach
    void twoNodes() {
        url = postgres.createDatabase();
        nodeA = PostgresHistoryStore.open(PostgresUrl.parse(url));
        nodeB = PostgresHistoryStore.open(PostgresUrl.parse(url));
    }

    @AfterEach
    void close() {
        nodeA.close();
        nodeB.close();
    }

    private static Draft draft(String room, String user, String id) {
        return new Draft(room, id, user, user.substring(user.indexOf(':') + 1), "text of " + id, 1_795_305_600_000L);
    }

    @Test
    void draftsGetTheNextSeqsOfTheirRoomsInTheirOrder() {
        List<Sequenced> first = nodeA.sequence(List.of(draft("b", "guest:ann", "1"), draft("a", "guest:ann", "2"),
                draft("b", "guest:ann", "3")));
        assertThat(first).extracting(s -> s.message().room() + s.message().seq() + "/" + s.isNew())
                .containsExactly("b1/true", "a1/true", "b2/true");
        List<Sequenced> second = nodeB.sequence(List.of(draft("a", "guest:bob", "1")));
        assertThat(second.getFirst().message().seq()).isEqualTo(2);
        assertThat(nodeA.lastSeq("a")).isEqualTo(2);
        assertThat(nodeA.lastSeq("b")).isEqualTo(2);
        assertThat(nodeB.latest("b", 10)).extracting(StoredMessage::id).containsExactly("1", "3");
        assertThat(nodeB.loadTail("a", 10).lastSeq()).isEqualTo(2);
    }

    @Test
    void aResendThroughTheOtherNodeReturnsTheOriginalAndStoresNothing() {
        Sequenced original = nodeA.sequence(List.of(draft("lobby", "guest:ann", "m1"))).getFirst();
        nodeA.sequence(List.of(draft("lobby", "guest:bob", "m1")));

        Draft resend = new Draft("lobby", "m1", "guest:ann", "ann", "typed again", 1_900_000_000_000L);
        List<Sequenced> again = nodeB.sequence(List.of(resend, draft("lobby", "guest:ann", "m2")));

        assertThat(again.get(0)).isEqualTo(new Sequenced(original.message(), false));
        assertThat(again.get(1).isNew()).isTrue();
        assertThat(again.get(1).message().seq()).isEqualTo(3);
        assertThat(nodeA.latest("lobby", 10)).extracting(StoredMessage::seq).containsExactly(1L, 2L, 3L);
        assertThat(nodeA.lastSeq("lobby")).isEqualTo(3);
    }

    @Test
    void theSameClientIdTwiceInOneCallIsStoredOnce() {
        List<Sequenced> out = nodeA.sequence(List.of(draft("lobby", "guest:ann", "m1"),
                draft("lobby", "guest:ann", "m1")));
        assertThat(out.get(0).isNew()).isTrue();
        assertThat(out.get(1)).isEqualTo(new Sequenced(out.get(0).message(), false));
        assertThat(nodeA.latest("lobby", 10)).hasSize(1);
        assertThat(nodeA.lastSeq("lobby")).isEqualTo(1);
    }

    @Test
    void aFailedCallStoresNothingAndTakesNoSeq() {
        nodeA.sequence(List.of(draft("a", "guest:ann", "1")));
        // A NUL is not text to PostgreSQL: the insert fails after room a's seq was taken and b's row made.
        List<Draft> broken = List.of(draft("a", "guest:ann", "2"),
                new Draft("b", "x", "guest:ann", "ann", "nul \u0000 here", 1));
        assertThatThrownBy(() -> nodeA.sequence(broken)).isInstanceOf(StoreException.class);
        assertThat(nodeA.lastSeq("a")).isEqualTo(1);
        assertThat(nodeA.lastSeq("b")).isZero();
        assertThat(nodeA.latest("a", 10)).hasSize(1);
        assertThat(nodeB.sequence(List.of(draft("a", "guest:ann", "2"))).getFirst().message().seq()).isEqualTo(2);
    }

    /**
     * Two nodes, four threads each, batches of random rooms and sizes into the same three rooms, some
     * drafts resent through the other node: each room ends with seqs 1..N once each, each client id
     * stored once, every call answered, and every resend given the seq its original got.
     */
    @Test
    void concurrentNodesGiveEveryRoomGaplessSeqsAndStoreEachClientIdOnce() throws Exception {
        long seed = System.nanoTime();
        System.out.println("PostgresSequenceTest seed " + seed);
        String[] rooms = {"r1", "r2", "r3"};
        int threadsPerNode = 4;
        int callsPerThread = 40;
        Map<String, Long> seqOfId = new ConcurrentHashMap<>();
        List<String> conflicts = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService threads = Executors.newFixedThreadPool(2 * threadsPerNode);
        List<Future<Integer>> work = new ArrayList<>();
        try {
            for (int t = 0; t < 2 * threadsPerNode; t++) {
                PostgresHistoryStore node = t % 2 == 0 ? nodeA : nodeB;
                PostgresHistoryStore other = t % 2 == 0 ? nodeB : nodeA;
                Random random = new Random(seed + t);
                String user = "guest:u" + t;
                work.add(threads.submit(() -> {
                    int fresh = 0;
                    for (int call = 0; call < callsPerThread; call++) {
                        List<Draft> drafts = new ArrayList<>();
                        int size = 1 + random.nextInt(6);
                        for (int k = 0; k < size; k++) {
                            drafts.add(draft(rooms[random.nextInt(rooms.length)], user, call + "." + k));
                        }
                        List<Sequenced> out = node.sequence(drafts);
                        for (Sequenced s : out) {
                            fresh += s.isNew() ? 1 : 0;
                            record(seqOfId, conflicts, s.message());
                        }
                        if (random.nextInt(4) == 0) {
                            // The client reconnected to the other node and sent its last batch again.
                            for (Sequenced s : other.sequence(drafts)) {
                                assertThat(s.isNew()).as("resend of %s", s.message().id()).isFalse();
                                record(seqOfId, conflicts, s.message());
                            }
                        }
                    }
                    return fresh;
                }));
            }
            int stored = 0;
            for (Future<Integer> f : work) {
                stored += f.get(120, TimeUnit.SECONDS);
            }
            assertThat(conflicts).as("a client id answered with two different seqs").isEmpty();

            Map<String, List<Long>> seqs = new HashMap<>();
            Map<String, Integer> idCounts = new HashMap<>();
            try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT room, seq, sender_user, client_id FROM messages ORDER BY room, seq")) {
                while (rs.next()) {
                    seqs.computeIfAbsent(rs.getString(1), r -> new ArrayList<>()).add(rs.getLong(2));
                    idCounts.merge(rs.getString(1) + "/" + rs.getString(3) + "/" + rs.getString(4), 1, Integer::sum);
                }
            }
            int total = 0;
            for (String room : rooms) {
                List<Long> got = seqs.getOrDefault(room, List.of());
                assertThat(got).as("seqs of %s", room)
                        .isEqualTo(LongStream.rangeClosed(1, got.size()).boxed().toList());
                assertThat(nodeA.lastSeq(room)).isEqualTo(got.size());
                total += got.size();
            }
            assertThat(total).isEqualTo(stored).isEqualTo(seqOfId.size());
            assertThat(idCounts).allSatisfy((key, n) -> assertThat(n).as(key).isOne());
        } finally {
            threads.shutdownNow();
        }
    }

    /**
     * Looking up a batch's client ids is one index probe per id, not a walk over the room: a busy
     * room holds millions of messages. Checked on the plan PostgreSQL picks for a room of 5,000 that
     * grew after the table's statistics were taken, as a busy room does between two autovacuums.
     */
    @Test
    void lookingUpABatchsClientIdsProbesTheIndexInsteadOfWalkingTheRoom() throws Exception {
        for (String room : List.of("old", "big")) {
            for (int b = 0; b < 50; b++) {
                List<Draft> drafts = new ArrayList<>();
                for (int i = 0; i < 100; i++) {
                    drafts.add(draft(room, "guest:ann", b + "." + i));
                }
                nodeA.sequence(drafts);
            }
            if (room.equals("old")) {
                try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement()) {
                    s.execute("ANALYZE messages");
                }
            }
        }
        String plan;
        try (Connection c = PostgresProcess.connect(url);
             java.sql.PreparedStatement ps = c.prepareStatement("EXPLAIN ANALYZE " + PostgresHistoryStore.STORED_ALREADY)) {
            ps.setArray(1, c.createArrayOf("text", new String[] {"guest:ann", "guest:ann"}));
            ps.setArray(2, c.createArrayOf("text", new String[] {"3.3", "40.1"}));
            ps.setString(3, "big");
            StringBuilder text = new StringBuilder();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    text.append(rs.getString(1)).append('\n');
                }
            }
            plan = text.toString();
        }
        assertThat(plan).contains("client_id = k.client_id").doesNotContain("Rows Removed by Join Filter");
    }

    private static void record(Map<String, Long> seqOfId, List<String> conflicts, StoredMessage m) {
        String key = m.room() + "/" + m.user() + "/" + m.id();
        Long before = seqOfId.putIfAbsent(key, m.seq());
        if (before != null && before != m.seq()) {
            conflicts.add(key + ": " + before + " and " + m.seq());
        }
    }
}
