package io.parley.engine;

import io.parley.engine.cluster.RedisAddress;
import io.parley.engine.cluster.RedisLink;
import io.parley.engine.cluster.RoomBatchCodec;
import io.parley.store.PostgresHistoryStore;
import io.parley.store.PostgresUrl;
import io.parley.store.StoredMessage;
import io.parley.testing.NodeServices;
import io.parley.testing.PostgresProcess;
import io.parley.testing.RedisProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three nodes sharing rooms over one Redis and one PostgreSQL, in one JVM: what issue "Several nodes"
 * asks of them, engine to engine. One order per room on every node, nothing lost when a publish is
 * (Redis restarted, a node that committed and died before telling), idempotent sends through another
 * node, long polls answered from another node, presence over all nodes.
 */
class SeveralNodesTest {

    private static NodeServices services;
    private static PostgresProcess postgres;
    private static RedisProcess redis;

    private final List<ExecutorService> loops = new ArrayList<>();
    private final List<Broker> nodes = new ArrayList<>();
    private final List<PostgresHistoryStore> nodeStores = new ArrayList<>();
    private PostgresHistoryStore store;
    private String databaseUrl;

    @BeforeAll
    static void startServices() throws Exception {
        services = NodeServices.start();
        postgres = services.postgres();
        redis = services.redis();
    }

    @AfterAll
    static void stopServices() {
        if (services != null) {
            services.close();
        }
    }

    @BeforeEach
    void startNodes() throws Exception {
        redis.flushAll();
        databaseUrl = postgres.createDatabase();
        store = PostgresHistoryStore.open(PostgresUrl.parse(databaseUrl));
        for (int i = 0; i < 3; i++) {
            loops.add(Executors.newSingleThreadExecutor());
            nodes.add(node(i));
        }
    }

    private Broker node(int i) {
        return node(i, 0);
    }

    private Broker node(int i, long graceMillis) {
        // Each node its own store (its own pool), as separate processes would have.
        PostgresHistoryStore own = PostgresHistoryStore.open(PostgresUrl.parse(databaseUrl));
        nodeStores.add(own);
        return RedisBroker.start(own, RedisAddress.parse(redis.url()), TEXT, 50, 0, 1000, graceMillis, "node" + i,
                (thread, cause) -> { throw new AssertionError(thread.getName() + " died", cause); });
    }

    @AfterEach
    void stopNodes() {
        nodes.forEach(Broker::close);
        nodes.clear();
        nodeStores.forEach(PostgresHistoryStore::close);
        nodeStores.clear();
        store.close();
        loops.forEach(ExecutorService::shutdownNow);
        loops.clear();
    }

    static final BroadcastEncoder TEXT = BrokerContract.TEXT;

    /** A member on one node, recording what it is handed. */
    final class Member implements Subscriber, JoinListener {
        final int node;
        final ExecutorService loop;
        final List<String> frames = Collections.synchronizedList(new ArrayList<>());
        final CompletableFuture<Integer> joined = new CompletableFuture<>();
        final CompletableFuture<Replay> history = new CompletableFuture<>();
        Subscription subscription;

        Member(int node) {
            this.node = node;
            this.loop = loops.get(node);
        }

        @Override
        public ExecutorService executor() {
            return loop;
        }

        @Override
        public void deliver(byte[] frame) {
            frames.add(new String(frame, StandardCharsets.UTF_8));
        }

        @Override
        public void flush() { }

        @Override
        public void joined(int members, Replay replay) {
            history.complete(replay);
            joined.complete(members);
        }

        @Override
        public void failed(Failure failure) {
            joined.completeExceptionally(new AssertionError(failure));
        }

        Member join(String room, String name) throws Exception {
            Broker broker = nodes.get(node);
            loop.submit(() -> subscription = broker.subscribe(room, this, name, name, -1, broker.asker(), this)).get();
            joined.get(10, TimeUnit.SECONDS);
            return this;
        }

        void disconnect() throws Exception {
            loop.submit(() -> nodes.get(node).disconnect(subscription)).get();
        }

        List<Long> seqs() {
            synchronized (frames) {
                return frames.stream().filter(f -> f.startsWith("m ")).map(f -> Long.parseLong(f.split(" ")[2])).toList();
            }
        }

        void await(Predicate<List<String>> done, String what) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (System.nanoTime() < deadline) {
                synchronized (frames) {
                    if (done.test(frames)) {
                        return;
                    }
                }
                Thread.sleep(10);
            }
            synchronized (frames) {
                throw new AssertionError("member on node " + node + " never got " + what + "; got " + frames);
            }
        }

        void awaitMessages(int count) throws InterruptedException {
            await(f -> f.stream().filter(x -> x.startsWith("m ")).count() >= count, count + " messages");
        }
    }

    private CompletableFuture<StoredMessage> publish(int node, String room, String user, String id, String text) {
        CompletableFuture<StoredMessage> outcome = new CompletableFuture<>();
        ExecutorService loop = loops.get(node);
        loop.execute(() -> nodes.get(node).publish(loop, room, id, user, user, text, new PublishListener() {
            @Override
            public void stored(StoredMessage message) {
                outcome.complete(message);
            }

            @Override
            public void failed(Failure failure) {
                outcome.completeExceptionally(new AssertionError("publish through node " + node + ": " + failure));
            }
        }));
        return outcome;
    }

    private Tombstones delete(int node, String room, long after, long upTo, String by) throws Exception {
        CompletableFuture<Tombstones> outcome = new CompletableFuture<>();
        ExecutorService loop = loops.get(node);
        loop.execute(() -> nodes.get(node).delete(loop, room, after, upTo, by, new DeleteListener() {
            @Override
            public void deleted(Tombstones tombstones) {
                outcome.complete(tombstones);
            }

            @Override
            public void failed(Failure failure) {
                outcome.completeExceptionally(new AssertionError("delete through node " + node + ": " + failure));
            }
        }));
        return outcome.get(10, TimeUnit.SECONDS);
    }

    private List<StoredMessage> joinFresh(int node, String room) throws Exception {
        return new Member(node).join(room, "late").history.get(10, TimeUnit.SECONDS).messages();
    }

    @Test
    void aDeletionThroughOneNodeReachesEveryNodesMembersAfterTheMessage() throws Exception {
        Member onOne = new Member(1).join("hall", "one");
        Member onTwo = new Member(2).join("hall", "two");
        for (int i = 1; i <= 3; i++) {
            publish(0, "hall", "guest:ada", "a" + i, "secret " + i).get(10, TimeUnit.SECONDS);
        }
        onOne.awaitMessages(3);
        onTwo.awaitMessages(3);
        long start = System.nanoTime();
        Tombstones t = delete(0, "hall", 1, 2, "mod-1");
        assertThat(t.seqs()).containsExactly(2L);
        for (Member m : List.of(onOne, onTwo)) {
            m.await(f -> f.contains("d hall 1 2 mod-1"), "the deletion");
            synchronized (m.frames) {
                assertThat(m.frames.indexOf("d hall 1 2 mod-1")).isGreaterThan(m.frames.indexOf("m hall 2 a2 secret 2"));
            }
        }
        System.out.printf("a deletion reached the other nodes' members after %d ms%n",
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        // The other nodes' memory has the tombstone: a join there is answered without the text.
        assertThat(joinFresh(2, "hall")).extracting(StoredMessage::text).containsExactly("secret 1", "", "secret 3");
        assertThat(joinFresh(1, "hall").get(1).deletedBy()).isEqualTo("mod-1");
    }

    @Test
    void aDeletionHeardBeforeItsMessageWaitsForItAndItsTextNeverShows() throws Exception {
        Member onOne = new Member(1).join("hall", "one");
        publish(0, "hall", "guest:ada", "a1", "first").get(10, TimeUnit.SECONDS);
        onOne.awaitMessages(1);
        // What a third node does when its batch's publish is slower than another node's deletion of it:
        // the message committed and deleted in PostgreSQL, the deletion heard first, the batch after.
        StoredMessage second = store.sequence(List.of(new PostgresHistoryStore.Draft("hall", "a2", "guest:ada", "ada",
                "secret", System.currentTimeMillis()))).getFirst().message();
        assertThat(store.tombstone("hall", 1, 2, "mod-1", 1234)).containsExactly(2L);
        try (RedisLink third = RedisLink.connect(RedisAddress.parse(redis.url()), "third-node", new RedisLink.Listener() {
            @Override
            public void message(String room, byte[] payload) { }

            @Override
            public void restored() { }
        })) {
            third.publish("hall", RoomBatchCodec.encodeDeletion("third-node", "hall", 1, 2, "mod-1", 1234));
            third.publish("hall", RoomBatchCodec.encodeBatch("third-node", List.of(second)));
            onOne.await(f -> f.contains("d hall 1 2 mod-1"), "the deletion");
        }
        synchronized (onOne.frames) {
            assertThat(onOne.frames).noneMatch(f -> f.contains("secret"));
            assertThat(onOne.frames).containsSubsequence("m hall 2 a2 ", "d hall 1 2 mod-1");
        }
    }

    @Test
    void aDeletionWhoseNoticeWasLostReachesTheOtherNodesByTheReconciliation() throws Exception {
        Member onOne = new Member(1).join("hall", "one");
        publish(0, "hall", "guest:ada", "a1", "secret").get(10, TimeUnit.SECONDS);
        publish(0, "hall", "guest:ada", "a2", "kept").get(10, TimeUnit.SECONDS);
        onOne.awaitMessages(2);
        // Deleted in PostgreSQL by a node that died before telling anyone.
        long start = System.nanoTime();
        store.tombstone("hall", 0, 1, "mod-1", 1234);
        onOne.await(f -> f.contains("d hall 0 1 mod-1"), "the deletion");
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("an unannounced deletion reached another node's members after %d ms%n", tookMillis);
        assertThat(tookMillis).as("within the reconciliation bound (1 s) and a read, with room to spare")
                .isLessThan(5_000);
        assertThat(joinFresh(1, "hall")).extracting(StoredMessage::text).containsExactly("", "kept");
    }

    private static List<Long> oneTo(long n) {
        List<Long> out = new ArrayList<>();
        for (long s = 1; s <= n; s++) {
            out.add(s);
        }
        return out;
    }

    @Test
    void sendsThroughEveryNodeReachEveryMemberOnEveryNodeInOneOrder() throws Exception {
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            members.add(new Member(i % 3).join("hall", "m" + i));
        }
        int perNode = 150;
        List<CompletableFuture<StoredMessage>> acks = new ArrayList<>();
        for (int i = 0; i < perNode; i++) {
            for (int node = 0; node < 3; node++) {
                acks.add(publish(node, "hall", "guest:n" + node, "n" + node + "-" + i, "from node " + node));
            }
        }
        List<Long> acked = new ArrayList<>();
        for (CompletableFuture<StoredMessage> ack : acks) {
            acked.add(ack.get(20, TimeUnit.SECONDS).seq());
        }
        assertThat(acked).containsExactlyInAnyOrderElementsOf(oneTo(3L * perNode));
        for (Member m : members) {
            m.awaitMessages(3 * perNode);
            assertThat(m.seqs()).as("what a member on node %d was handed", m.node).isEqualTo(oneTo(3L * perNode));
        }
    }

    @Test
    void aMessageCommittedByANodeThatDiedBeforeTellingTheOthersStillReachesThem() throws Exception {
        Member onOne = new Member(1).join("hall", "one");
        Member onTwo = new Member(2).join("hall", "two");
        publish(0, "hall", "guest:a", "before", "before").get(10, TimeUnit.SECONDS);
        // What a node killed between its commit and its publish leaves behind: a committed message
        // nobody announced.
        long start = System.nanoTime();
        store.sequence(List.of(new PostgresHistoryStore.Draft("hall", "orphan", "guest:ghost", "ghost",
                "committed, never published", System.currentTimeMillis())));
        onOne.awaitMessages(2);
        onTwo.awaitMessages(2);
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("an unpublished message reached the other nodes after %d ms%n", tookMillis);
        assertThat(onOne.seqs()).isEqualTo(List.of(1L, 2L));
        assertThat(onTwo.seqs()).isEqualTo(List.of(1L, 2L));
        assertThat(tookMillis).as("within the reconciliation bound (1 s) and a read, with room to spare")
                .isLessThan(5_000);
    }

    @Test
    void aResendThroughAnotherNodeIsAnsweredWithTheOriginal() throws Exception {
        Member watcher = new Member(2).join("hall", "watcher");
        StoredMessage first = publish(0, "hall", "guest:ada", "id-1", "once").get(10, TimeUnit.SECONDS);
        // The same message again, after a reconnect to node 1 (a new text under the id is id_reused).
        StoredMessage resent = publish(1, "hall", "guest:ada", "id-1", "once").get(10, TimeUnit.SECONDS);
        StoredMessage next = publish(1, "hall", "guest:ada", "id-2", "next").get(10, TimeUnit.SECONDS);

        assertThat(resent.seq()).isEqualTo(first.seq());
        assertThat(resent.text()).isEqualTo("once");
        assertThat(next.seq()).isEqualTo(first.seq() + 1);
        watcher.awaitMessages(2);
        assertThat(watcher.seqs()).isEqualTo(List.of(1L, 2L));
    }

    @Test
    void aLongPollOnOneNodeIsAnsweredByASendThroughAnother() throws Exception {
        publish(0, "hall", "guest:ada", "m1", "first").get(10, TimeUnit.SECONDS);
        CompletableFuture<Replay> answer = new CompletableFuture<>();
        ExecutorService loop = loops.get(2);
        Broker waiting = nodes.get(2);
        loop.submit(() -> waiting.poll(waiting.asker(), "hall", null, null, 1, 100, true, loop, new PollListener() {
            @Override
            public void answered(Replay replay) {
                answer.complete(replay);
            }

            @Override
            public void failed(Failure failure) {
                answer.completeExceptionally(new AssertionError(failure));
            }
        })).get();
        publish(1, "hall", "guest:bob", "m2", "second, through node 1").get(10, TimeUnit.SECONDS);

        assertThat(answer.get(10, TimeUnit.SECONDS).messages()).extracting(StoredMessage::text)
                .containsExactly("second, through node 1");
    }

    @Test
    void presenceCountsTheMembersOfEveryNode() throws Exception {
        Member ada = new Member(0).join("hall", "ada");
        new Member(1).join("hall", "bob");
        Member carol = new Member(2).join("hall", "carol");
        carol.await(f -> f.stream().anyMatch(x -> x.startsWith("p hall 3 ")), "a count of 3");
        ada.await(f -> f.stream().anyMatch(x -> x.startsWith("p hall 3 ") && x.contains("carol")), "carol's join");
        loops.get(2).submit(() -> nodes.get(2).unsubscribe(carol.subscription)).get();
        ada.await(f -> f.stream().anyMatch(x -> x.startsWith("p hall 2 ") && x.contains("-[carol]")), "carol leaving");
    }

    @Test
    void aUserReconnectingThroughAnotherNodeIsCountedTwiceForAGraceAndThenOnce() throws Exception {
        // Two more nodes whose closed connections linger; the watcher's node has none.
        for (int i = 3; i < 5; i++) {
            loops.add(Executors.newSingleThreadExecutor());
            nodes.add(node(i, 1_000));
        }
        Member watcher = new Member(2).join("hall", "watcher");
        Member ada = new Member(3).join("hall", "ada");
        watcher.await(f -> f.contains("p hall 2 +[ada] -[]"), "ada's join");

        // Ada's client reconnects through node 4. Node 3's lingering entry is its own: node 4 counts a
        // member of its own, and node 3's entry leaves when its grace is up.
        ada.disconnect();
        Member back = new Member(4).join("hall", "ada");
        watcher.await(f -> f.contains("p hall 3 +[ada] -[]"), "ada again, through node 4");
        watcher.await(f -> f.contains("p hall 2 +[] -[ada]"), "node 3's entry leaving after the grace");
        assertThat(new Member(0).join("hall", "late").joined.get()).as("the count, converged").isEqualTo(3);

        // When she really goes, her entry on node 4 leaves too: nothing lingers for good.
        back.disconnect();
        watcher.await(f -> f.stream().filter(x -> x.endsWith(" +[] -[ada]")).count() == 2, "ada's last left");
        assertThat(new Member(1).join("hall", "later").joined.get()).as("watcher, late, later").isEqualTo(3);
    }

    @Test
    void withPostgresDownSendsAreRefusedMembersStayAndServiceResumesWhenItIsBack() throws Exception {
        Member onTwo = new Member(2).join("hall", "two");
        publish(0, "hall", "guest:ada", "m1", "before").get(10, TimeUnit.SECONDS);
        postgres.stop();
        try {
            CompletableFuture<StoredMessage> refused = publish(0, "hall", "guest:ada", "m2", "while down");
            assertThat(refused).failsWithin(15, TimeUnit.SECONDS).withThrowableThat()
                    .withMessageContaining("STORE_UNAVAILABLE");
        } finally {
            postgres.start();
        }
        // The same id again, now that PostgreSQL is back: stored once, delivered on the other node.
        StoredMessage stored = publish(0, "hall", "guest:ada", "m2", "while down").get(20, TimeUnit.SECONDS);
        assertThat(stored.seq()).isEqualTo(2);
        onTwo.awaitMessages(2);
        assertThat(onTwo.seqs()).isEqualTo(List.of(1L, 2L));
    }

    @Test
    void redisRestartedMidStreamLosesNothingAndKeepsTheOrder() throws Exception {
        Member onZero = new Member(0).join("hall", "zero");
        Member onTwo = new Member(2).join("hall", "two");
        for (int i = 0; i < 20; i++) {
            publish(1, "hall", "guest:ada", "a" + i, "before").get(10, TimeUnit.SECONDS);
        }
        redis.restart();
        for (int i = 0; i < 20; i++) {
            publish(1, "hall", "guest:ada", "b" + i, "while and after").get(10, TimeUnit.SECONDS);
        }
        onZero.awaitMessages(40);
        onTwo.awaitMessages(40);
        assertThat(onZero.seqs()).isEqualTo(oneTo(40));
        assertThat(onTwo.seqs()).isEqualTo(oneTo(40));
        // And live delivery over Redis works again, not only the catch-up.
        publish(0, "hall", "guest:ada", "c", "after").get(10, TimeUnit.SECONDS);
        onTwo.awaitMessages(41);
        assertThat(onTwo.seqs()).isEqualTo(oneTo(41));
    }
}
