package io.parley.engine;

import io.parley.store.StoredMessage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What every {@link Broker} must do, as its interface writes it: one test per promise. An
 * implementation's test class extends this and says how to start one on a data directory; the same
 * tests then run against it. Subscribers here record the frames they are handed, on single-thread
 * executors standing in for event loops.
 */
abstract class BrokerContract {

    /**
     * A broker keeping its history under {@code dir}; {@code retainMessages} as LocalBroker's (0: all);
     * rooms above {@code presenceNamesUpTo} members hear counts instead of names; members linger
     * {@code graceMillis} after a disconnect (0: no leases).
     */
    protected abstract Broker start(Path dir, BroadcastEncoder encoder, long retainMessages, int presenceNamesUpTo,
                                    long graceMillis) throws Exception;

    protected Broker start(Path dir, BroadcastEncoder encoder, long retainMessages, int presenceNamesUpTo)
            throws Exception {
        return start(dir, encoder, retainMessages, presenceNamesUpTo, 0);
    }

    /** A broker with the usual presence threshold (1,000 members). */
    protected Broker start(Path dir, BroadcastEncoder encoder, long retainMessages) throws Exception {
        return start(dir, encoder, retainMessages, 1_000);
    }

    /** Closes what {@link #start} opened besides the broker (a store, a connection). */
    protected abstract void stopped() throws Exception;

    @TempDir
    Path dir;

    private final List<ExecutorService> loops = List.of(Executors.newSingleThreadExecutor(),
            Executors.newSingleThreadExecutor());
    private final ReadQueue.Asker[] askers = new ReadQueue.Asker[1];
    private Broker broker;

    /**
     * Frames as text: "m <room> <seq> <id> <text>" for messages, "p <room> <members> +[joined] -[left]"
     * for presence, "c <room> <members>" for a big room's count.
     */
    static final BroadcastEncoder TEXT = new BroadcastEncoder() {
        @Override
        public byte[] message(StoredMessage m) {
            return ("m " + m.room() + " " + m.seq() + " " + m.id() + " " + m.text()).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public byte[] presence(String room, int members, List<String> joined, List<String> left) {
            return ("p " + room + " " + members + " +" + joined + " -" + left).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public byte[] presenceCount(String room, int members) {
            return ("c " + room + " " + members).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public byte[] tombstones(Tombstones t) {
            return ("d " + t.room() + " " + t.after() + " " + t.upTo() + " " + t.by()).getBytes(StandardCharsets.UTF_8);
        }
    };

    @BeforeEach
    void startBroker() throws Exception {
        broker = start(dir, TEXT, 0);
    }

    @AfterEach
    void stopBroker() throws Exception {
        if (broker != null) {
            broker.close();
        }
        stopped();
        loops.forEach(ExecutorService::shutdownNow);
    }

    /** A member: records its frames and how its join ended, confined to its loop like a connection. */
    final class Member implements Subscriber, JoinListener {
        final ExecutorService loop;
        final List<String> frames = Collections.synchronizedList(new ArrayList<>());
        final CompletableFuture<Replay> joined = new CompletableFuture<>();
        final String name;
        final String user;
        /** The member count its join was answered with. */
        volatile int membersOnJoin;
        Subscription subscription;

        Member(int n) {
            this(n, "member");
        }

        Member(int n, String name) {
            this(n, name, "guest:" + name + "#" + UNIQUE.incrementAndGet());
        }

        /** A member with this user id: another Member of the same user is that user reconnecting. */
        Member(int n, String name, String user) {
            this.loop = loops.get(n % loops.size());
            this.name = name;
            this.user = user;
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
            membersOnJoin = members;
            joined.complete(replay);
        }

        @Override
        public void failed(Failure failure) {
            joined.completeExceptionally(new AssertionError("join failed: " + failure));
        }

        Replay join(String room, long since) throws Exception {
            loop.submit(() -> subscription = broker.subscribe(room, this, user, name, since, asker(), this)).get();
            return joined.get(10, TimeUnit.SECONDS);
        }

        /** The seqs of the messages handed to this member live, in the order handed. */
        List<Long> liveSeqs() {
            synchronized (frames) {
                return frames.stream().filter(f -> f.startsWith("m ")).map(f -> Long.parseLong(f.split(" ")[2])).toList();
            }
        }

        void awaitFrames(Predicate<List<String>> done) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                synchronized (frames) {
                    if (done.test(frames)) {
                        return;
                    }
                }
                Thread.sleep(5);
            }
            synchronized (frames) {
                throw new AssertionError("frames never got there: " + frames);
            }
        }
    }

    private static final AtomicInteger UNIQUE = new AtomicInteger();

    private ReadQueue.Asker asker() {
        synchronized (askers) {
            if (askers[0] == null) {
                askers[0] = broker.asker();
            }
            return askers[0];
        }
    }

    /** Publishes from {@code loop} and waits for the outcome: the stored message. */
    StoredMessage publish(String room, String user, String id, String text) throws Exception {
        CompletableFuture<Object> outcome = publishOutcome(room, user, id, text);
        Object result = outcome.get(10, TimeUnit.SECONDS);
        if (result instanceof Failure failure) {
            throw new AssertionError("publish failed: " + failure);
        }
        return (StoredMessage) result;
    }

    /** Publishes from {@code loop}; completes with the stored message or the {@link Failure}. */
    CompletableFuture<Object> publishOutcome(String room, String user, String id, String text) throws Exception {
        CompletableFuture<Object> outcome = new CompletableFuture<>();
        ExecutorService loop = loops.getFirst();
        loop.submit(() -> broker.publish(loop, room, id, user, user, text, new PublishListener() {
            @Override
            public void stored(StoredMessage message) {
                outcome.complete(message);
            }

            @Override
            public void failed(Failure failure) {
                outcome.complete(failure);
            }
        })).get();
        return outcome;
    }

    /** A moderator's deletion from the first loop; completes with what was deleted. */
    Tombstones delete(String room, long after, long upTo, String by) throws Exception {
        CompletableFuture<Tombstones> outcome = new CompletableFuture<>();
        ExecutorService loop = loops.getFirst();
        loop.submit(() -> broker.delete(loop, room, after, upTo, by, new DeleteListener() {
            @Override
            public void deleted(Tombstones tombstones) {
                outcome.complete(tombstones);
            }

            @Override
            public void failed(Failure failure) {
                outcome.completeExceptionally(new AssertionError("delete failed: " + failure));
            }
        })).get();
        return outcome.get(10, TimeUnit.SECONDS);
    }

    @Test
    void aDeletionReachesMembersAfterTheMessageAndEveryReadAfterItGetsTheTombstone() throws Exception {
        Member ann = new Member(0);
        ann.join("lobby", -1);
        for (int i = 1; i <= 3; i++) {
            publish("lobby", "guest:bob", "b" + i, "secret " + i);
        }
        Tombstones t = delete("lobby", 1, 2, "mod-1");
        assertThat(t.seqs()).containsExactly(2L);
        assertThat(t.single()).isTrue();
        ann.awaitFrames(f -> f.contains("d lobby 1 2 mod-1"));
        synchronized (ann.frames) {
            assertThat(ann.frames.indexOf("d lobby 1 2 mod-1")).isGreaterThan(ann.frames.indexOf("m lobby 2 b2 secret 2"));
        }
        // A join from memory, a recovery with since, a poll and a history read: the tombstone, never the text.
        Member late = new Member(1);
        assertThat(late.join("lobby", -1).messages()).extracting(StoredMessage::text)
                .containsExactly("secret 1", "", "secret 3");
        Member recovering = new Member(1);
        StoredMessage tombstone = recovering.join("lobby", 1).messages().getFirst();
        assertThat(tombstone.seq()).isEqualTo(2);
        assertThat(tombstone.deletedBy()).isEqualTo("mod-1");
        assertThat(tombstone.deletedAt()).isEqualTo(t.at());
        assertThat(broker.history(asker(), "lobby", -1, 0, 10).get(10, TimeUnit.SECONDS))
                .extracting(StoredMessage::text).containsExactly("secret 1", "", "secret 3");
        // Deleting it again finds nothing left to delete and tells nobody.
        assertThat(delete("lobby", 1, 2, "mod-2").seqs()).isEmpty();
        publish("lobby", "guest:bob", "b4", "after");
        ann.awaitFrames(f -> f.contains("m lobby 4 b4 after"));
        assertThat(ann.frames).filteredOn(f -> f.startsWith("d ")).hasSize(1);
    }

    @Test
    void aResendOfADeletedMessageIsAnsweredWithItsTombstoneNotStoredAgain() throws Exception {
        publish("lobby", "guest:bob", "b1", "oops");
        delete("lobby", 0, 1, "mod-1");
        StoredMessage resent = publish("lobby", "guest:bob", "b1", "oops");
        assertThat(resent.seq()).isEqualTo(1);
        assertThat(resent.deleted()).isTrue();
        assertThat(publish("lobby", "guest:bob", "b2", "next").seq()).isEqualTo(2);
    }

    @Test
    void clearingTombstonesEveryMessageUpToASeqAndNoLaterOne() throws Exception {
        Member ann = new Member(0);
        ann.join("lobby", -1);
        for (int i = 1; i <= 4; i++) {
            publish("lobby", "guest:bob", "b" + i, "text " + i);
        }
        // Past the room's end: only what is stored is cleared, and the range told ends there.
        Tombstones t = delete("lobby", 0, 100, "mod-1");
        assertThat(t.seqs()).containsExactly(1L, 2L, 3L, 4L);
        assertThat(t.upTo()).isEqualTo(4);
        ann.awaitFrames(f -> f.contains("d lobby 0 4 mod-1"));
        publish("lobby", "guest:bob", "b5", "text 5");
        Member late = new Member(1);
        assertThat(late.join("lobby", -1).messages()).extracting(StoredMessage::text)
                .containsExactly("", "", "", "", "text 5");
    }

    @Test
    void everyMemberGetsEveryMessageOnceInSeqOrderWithoutAGap() throws Exception {
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Member m = new Member(i);
            m.join("hall", -1);
            members.add(m);
        }
        int count = 120;
        List<CompletableFuture<StoredMessage>> acks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            CompletableFuture<StoredMessage> ack = new CompletableFuture<>();
            acks.add(ack);
            ExecutorService loop = loops.get(i % 2);
            String id = "id" + i;
            loop.execute(() -> broker.publish(loop, "hall", id, "guest:u" + (id.hashCode() % 3), "u", "text", new PublishListener() {
                @Override
                public void stored(StoredMessage message) {
                    ack.complete(message);
                }

                @Override
                public void failed(Failure failure) {
                    ack.completeExceptionally(new AssertionError(failure));
                }
            }));
        }
        List<Long> acked = new ArrayList<>();
        for (CompletableFuture<StoredMessage> ack : acks) {
            acked.add(ack.get(10, TimeUnit.SECONDS).seq());
        }
        assertThat(acked).containsExactlyInAnyOrderElementsOf(seqs(1, count));
        for (Member m : members) {
            m.awaitFrames(f -> f.stream().filter(x -> x.startsWith("m ")).count() >= count);
            assertThat(m.liveSeqs()).as("what one member was handed").isEqualTo(seqs(1, count));
        }
    }

    @Test
    void eachStoredBatchReportsHowLongItsCommitTookBeforeItIsAcknowledged() throws Exception {
        List<Long> commits = Collections.synchronizedList(new ArrayList<>());
        broker.onCommit(commits::add);
        Member watcher = new Member(1);
        watcher.join("timed", -1);

        publish("timed", "guest:ada", "c1", "first");
        assertThat(commits).as("reported before the ack").hasSize(1);
        publish("timed", "guest:ada", "c2", "second");

        assertThat(commits).as("one report per batch written").hasSize(2)
                .allSatisfy(nanos -> assertThat(nanos).isPositive());
        watcher.awaitFrames(f -> f.size() >= 2);
    }

    @Test
    void aResendOfAStoredIdIsAnsweredWithTheOriginalAndStoresNothing() throws Exception {
        Member watcher = new Member(1);
        watcher.join("hall", -1);
        StoredMessage first = publish("hall", "guest:ada", "same-id", "once");
        StoredMessage again = publish("hall", "guest:ada", "same-id", "once");
        Object reused = publishOutcome("hall", "guest:ada", "same-id", "another text under the same id")
                .get(10, TimeUnit.SECONDS);
        StoredMessage other = publish("hall", "guest:bob", "same-id", "another user's id is another message");

        assertThat(again.seq()).isEqualTo(first.seq());
        assertThat(again.text()).isEqualTo("once");
        assertThat(reused).as("a new text under a stored id is refused, not acked as the original")
                .isEqualTo(Failure.ID_REUSED);
        assertThat(other.seq()).isEqualTo(first.seq() + 1);
        watcher.awaitFrames(f -> f.stream().anyMatch(x -> x.contains("another user's")));
        assertThat(watcher.liveSeqs()).isEqualTo(List.of(first.seq(), other.seq()));
    }

    @Test
    void aJoinWithSinceGetsExactlyWhatCameAfterAndTheLiveStreamGoesOnFromThere() throws Exception {
        for (int i = 1; i <= 30; i++) {
            publish("hall", "guest:ada", "m" + i, "text " + i);
        }
        Member late = new Member(0);
        Replay replay = late.join("hall", 12);

        assertThat(replay.messages()).extracting(StoredMessage::seq).isEqualTo(seqs(13, 30));
        assertThat(replay.recovered(12)).isTrue();
        assertThat(replay.lastSeq()).isEqualTo(30);
        publish("hall", "guest:ada", "m31", "live");
        late.awaitFrames(f -> f.stream().anyMatch(x -> x.contains(" m31 ")));
        assertThat(late.liveSeqs()).isEqualTo(List.of(31L));
        late.loop.submit(() -> assertThat(late.subscription.handedUpTo()).isEqualTo(31)).get();
    }

    @Test
    void aHistoryReadReturnsStoredMessagesAndTheSubscriptionSaysHowFarItWasHanded() throws Exception {
        Member member = new Member(0);
        member.join("hall", -1);
        for (int i = 1; i <= 10; i++) {
            publish("hall", "guest:ada", "m" + i, "text " + i);
        }
        member.awaitFrames(f -> f.stream().filter(x -> x.startsWith("m ")).count() == 10);
        List<StoredMessage> page = broker.history(asker(), "hall", 8, -1, 5).get(10, TimeUnit.SECONDS);
        assertThat(page).extracting(StoredMessage::seq).isEqualTo(seqs(3, 7));
        List<StoredMessage> after = broker.history(asker(), "hall", -1, 7, 50).get(10, TimeUnit.SECONDS);
        assertThat(after).extracting(StoredMessage::seq).isEqualTo(seqs(8, 10));
        // What a caller trims a reply to, so that it never runs ahead of the live stream.
        member.loop.submit(() -> assertThat(member.subscription.handedUpTo()).isEqualTo(10)).get();
    }

    @Test
    void aWaitingPollIsAnsweredByTheNextMessageAndAnAnswerablePollAtOnce() throws Exception {
        publish("hall", "guest:ada", "m1", "first");
        CompletableFuture<Replay> waiting = poll("hall", 1, true);
        CompletableFuture<Replay> atOnce = poll("hall", 0, true);

        assertThat(atOnce.get(10, TimeUnit.SECONDS).messages()).extracting(StoredMessage::seq).containsExactly(1L);
        assertThat(waiting).isNotDone();
        publish("hall", "guest:bob", "m2", "second");
        assertThat(waiting.get(10, TimeUnit.SECONDS).messages()).extracting(StoredMessage::text).containsExactly("second");
    }

    @Test
    void retentionDeletesTheOldestAndARecoveryPastThemSaysSo() throws Exception {
        broker.close();
        stopped();
        broker = start(dir.resolve("retained"), TEXT, 1000);
        for (int batch = 0; batch < 14; batch++) {
            for (int i = 0; i < 100; i++) {
                int n = batch * 100 + i + 1;
                ExecutorService loop = loops.getFirst();
                loop.execute(() -> broker.publish(loop, "hall", "m" + n, "guest:ada", "ada", "text " + n, IGNORE));
            }
            publish("hall", "guest:ada", "sync" + batch, "sync");
        }
        Member late = new Member(0);
        Replay replay = late.join("hall", 0);

        assertThat(replay.recovered(0)).as("messages 1.. were deleted").isFalse();
        assertThat(replay.firstSeq()).isGreaterThan(1);
        assertThat(replay.lastSeq() - replay.firstSeq() + 1).isBetween(1000L, 1000L + 100);
        assertThat(replay.messages().getFirst().seq()).isEqualTo(replay.firstSeq());
    }

    @Test
    void joinsAndLeavesReachTheMembersWithTheCount() throws Exception {
        Member ada = new Member(0);
        ada.join("hall", -1);
        Member bob = new Member(1);
        bob.join("hall", -1);
        ada.awaitFrames(f -> f.stream().anyMatch(x -> x.startsWith("p hall 2 ")));
        bob.loop.submit(() -> broker.unsubscribe(bob.subscription)).get();
        ada.awaitFrames(f -> f.stream().anyMatch(x -> x.startsWith("p hall 1 ")));
    }

    @Test
    void aBigRoomHearsCountsAtMostOnceASecondAndNamesAgainOnceSmall() throws Exception {
        broker.close();
        stopped();
        broker = start(dir, TEXT, 0, 3);
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            members.add(new Member(i, "m" + i));
            members.getLast().join("hall", -1);
        }
        Member first = members.getFirst();
        first.awaitFrames(f -> f.contains("p hall 3 +[m2] -[]"));

        // Four more, one after another: each its own batch, each a change the old code named.
        long start = System.nanoTime();
        for (int i = 3; i < 7; i++) {
            members.add(new Member(i, "m" + i));
            members.getLast().join("hall", -1);
        }
        first.awaitFrames(f -> f.contains("c hall 7"));
        long elapsed = System.nanoTime() - start;
        List<String> counts;
        synchronized (first.frames) {
            assertThat(first.frames).as("nobody is named above the threshold")
                    .noneMatch(f -> f.startsWith("p hall 4 ") || f.startsWith("p hall 5 ")
                            || f.startsWith("p hall 6 ") || f.startsWith("p hall 7 "));
            counts = first.frames.stream().filter(f -> f.startsWith("c ")).toList();
        }
        // A count at most once a second: in a window of T seconds, at most floor(T) + 1 of them.
        assertThat(counts).as("counts within %d ms", TimeUnit.NANOSECONDS.toMillis(elapsed))
                .hasSizeLessThanOrEqualTo((int) (elapsed / TimeUnit.SECONDS.toNanos(1)) + 1);

        // Back down to the threshold: the leaves of the batch that gets it there are named again
        // (the sequencer may take several leaves in that batch).
        for (int i = 6; i >= 3; i--) {
            Member m = members.get(i);
            m.loop.submit(() -> broker.unsubscribe(m.subscription)).get();
        }
        first.awaitFrames(f -> f.stream().anyMatch(x -> x.startsWith("p hall 3 +[] -[") && x.contains("m3")));
        Member last = members.get(2);
        last.loop.submit(() -> broker.unsubscribe(last.subscription)).get();
        first.awaitFrames(f -> f.contains("p hall 2 +[] -[m2]"));
    }

    @Test
    void membersArePagedInJoinOrderEachOnceWhileOthersJoinAndLeave() throws Exception {
        List<Member> members = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            members.add(new Member(i, "m" + i));
            members.getLast().join("hall", -1);
        }
        List<String> listed = new ArrayList<>();
        MembersPage page = members("hall", 0, 3);
        assertThat(page.members()).isEqualTo(10);
        listed.addAll(page.names());
        // Between pages: one already listed leaves, one not yet listed leaves, a newcomer joins. A
        // cursor that were a position would now skip m3.
        Member m1 = members.get(1);
        m1.loop.submit(() -> broker.unsubscribe(m1.subscription)).get();
        Member m5 = members.get(5);
        m5.loop.submit(() -> broker.unsubscribe(m5.subscription)).get();
        new Member(10, "newcomer").join("hall", -1);
        int pages = 1;
        while (page.next() >= 0) {
            page = members("hall", page.next(), 3);
            listed.addAll(page.names());
            assertThat(++pages).as("pages").isLessThan(10);
        }
        assertThat(listed).containsExactly("m0", "m1", "m2", "m3", "m4", "m6", "m7", "m8", "m9", "newcomer");
        assertThat(page.members()).isEqualTo(9);
        assertThat(members("nowhere", 0, 3)).isEqualTo(new MembersPage(0, List.of(), -1));
    }

    /** The grace of the lease tests: long enough for a reconnect on a slow machine, short enough to wait out. */
    private static final long GRACE_MILLIS = 1_000;

    private void restartWithGrace() throws Exception {
        broker.close();
        stopped();
        broker = start(dir, TEXT, 0, 1_000, GRACE_MILLIS);
    }

    /** The presence frames {@code m} was handed that name {@code name}. */
    private static List<String> presenceOf(Member m, String name) {
        synchronized (m.frames) {
            return m.frames.stream().filter(f -> f.startsWith("p ") && f.contains(name)).toList();
        }
    }

    /** A member of "hall" who watches the others come and go. */
    private Member watcher() throws Exception {
        Member watcher = new Member(0, "watcher");
        watcher.join("hall", -1);
        return watcher;
    }

    private void disconnect(Member m) throws Exception {
        m.loop.submit(() -> broker.disconnect(m.subscription)).get();
    }

    @Test
    void aReconnectWithinTheGraceTakesTheLingeringEntryOverWithoutPresence() throws Exception {
        restartWithGrace();
        Member watcher = watcher();
        Member ada = new Member(1, "ada", "guest:ada");
        ada.join("hall", -1);
        watcher.awaitFrames(f -> f.contains("p hall 2 +[ada] -[]"));

        disconnect(ada);
        Member again = new Member(1, "ada", "guest:ada");
        again.join("hall", -1);
        assertThat(again.membersOnJoin).as("the count the reconnect sees").isEqualTo(2);
        // Bob comes and goes after Ada's reconnect: his left, a grace after his disconnect, is later than
        // Ada's would have been, so once it is here Ada's would be too.
        Member bob = new Member(0, "bob");
        bob.join("hall", -1);
        disconnect(bob);
        watcher.awaitFrames(f -> f.contains("p hall 2 +[] -[bob]"));

        assertThat(presenceOf(watcher, "ada")).as("no joined or left for a reconnect").containsExactly("p hall 2 +[ada] -[]");
        assertThat(members("hall", 0, 10).names()).containsExactly("watcher", "ada");
        publish("hall", "guest:zed", "after", "after the reconnect");
        again.awaitFrames(f -> f.stream().anyMatch(x -> x.contains(" after ")));
    }

    @Test
    void aReconnectInTheSameBatchAsItsDisconnectTakesTheEntryOver() throws Exception {
        restartWithGrace();
        Member watcher = watcher();
        Member ada = new Member(1, "ada", "guest:ada");
        ada.join("hall", -1);
        watcher.awaitFrames(f -> f.contains("p hall 2 +[ada] -[]"));

        // Sends ahead keep the sequencer committing while the disconnect and the join queue up behind
        // them, so that both come in one batch, in this order.
        ExecutorService loop = ada.loop;
        Member again = new Member(1, "ada", "guest:ada");
        loop.submit(() -> {
            for (int i = 0; i < 50; i++) {
                broker.publish(loop, "hall", "m" + i, "guest:zed", "zed", "busy", IGNORE);
            }
            broker.disconnect(ada.subscription);
            again.subscription = broker.subscribe("hall", again, again.user, again.name, -1, asker(), again);
        }).get();
        again.joined.get(10, TimeUnit.SECONDS);
        assertThat(again.membersOnJoin).isEqualTo(2);
        Member bob = new Member(0, "bob");
        bob.join("hall", -1);
        disconnect(bob);
        watcher.awaitFrames(f -> f.contains("p hall 2 +[] -[bob]"));
        assertThat(presenceOf(watcher, "ada")).containsExactly("p hall 2 +[ada] -[]");
    }

    @Test
    void aDisconnectedMemberLeavesOnceTheGracePassesAndALeaveAtOnce() throws Exception {
        restartWithGrace();
        Member watcher = watcher();
        Member ada = new Member(1, "ada");
        ada.join("hall", -1);
        Member cy = new Member(1, "cy");
        cy.join("hall", -1);
        watcher.awaitFrames(f -> f.contains("p hall 3 +[cy] -[]"));

        long start = System.nanoTime();
        disconnect(ada);
        cy.loop.submit(() -> broker.unsubscribe(cy.subscription)).get();
        watcher.awaitFrames(f -> f.contains("p hall 2 +[] -[cy]"));
        assertThat(presenceOf(watcher, "-[ada]")).as("ada lingers while cy has left").isEmpty();
        assertThat(members("hall", 0, 10).names()).containsExactly("watcher", "ada");

        watcher.awaitFrames(f -> f.contains("p hall 1 +[] -[ada]"));
        assertThat(System.nanoTime() - start).as("ada left after the grace")
                .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(GRACE_MILLIS));
        assertThat(members("hall", 0, 10).names()).containsExactly("watcher");
    }

    @Test
    void aNamedPollerIsAMemberWhileItPollsAndSwitchingToASubscriptionAndBackDoesNotFlap() throws Exception {
        restartWithGrace();
        Member watcher = watcher();
        poll("hall", null, null, 0, false).get(10, TimeUnit.SECONDS);
        poll("hall", "guest:pat", "pat", 0, false).get(10, TimeUnit.SECONDS);
        watcher.awaitFrames(f -> f.contains("p hall 2 +[pat] -[]"));
        assertThat(members("hall", 0, 10).names()).as("an anonymous poll is nobody").containsExactly("watcher", "pat");

        // Pat's poller switches to a subscription, back to polling (a waiting poll, answered by a
        // message), and polls once more.
        Member pat = new Member(1, "pat", "guest:pat");
        pat.join("hall", -1);
        assertThat(pat.membersOnJoin).isEqualTo(2);
        disconnect(pat);
        CompletableFuture<Replay> waiting = poll("hall", "guest:pat", "pat", 0, true);
        publish("hall", "guest:zed", "wake", "wakes the poll");
        assertThat(waiting.get(10, TimeUnit.SECONDS).messages()).extracting(StoredMessage::id).containsExactly("wake");
        poll("hall", "guest:pat", "pat", 1, false).get(10, TimeUnit.SECONDS);
        assertThat(members("hall", 0, 10).names()).containsExactly("watcher", "pat");

        // Then Pat stops: one left, a grace after the last poll.
        watcher.awaitFrames(f -> f.contains("p hall 1 +[] -[pat]"));
        assertThat(presenceOf(watcher, "pat")).containsExactly("p hall 2 +[pat] -[]", "p hall 1 +[] -[pat]");
    }

    @Test
    void anEntryTakenOverWhileItsUsersPollStillWaitsExpiresOnceTheSubscriptionGoes() throws Exception {
        restartWithGrace();
        Member watcher = watcher();
        CompletableFuture<Replay> waiting = poll("hall", "guest:pat", "pat", 0, true);
        watcher.awaitFrames(f -> f.contains("p hall 2 +[pat] -[]"));
        // The page opened a WebSocket while its last long poll was still out; the poll ends after.
        Member pat = new Member(1, "pat", "guest:pat");
        pat.join("hall", -1);
        publish("hall", "guest:zed", "wake", "ends the poll");
        waiting.get(10, TimeUnit.SECONDS);
        disconnect(pat);
        watcher.awaitFrames(f -> f.contains("p hall 1 +[] -[pat]"));
        assertThat(presenceOf(watcher, "pat")).containsExactly("p hall 2 +[pat] -[]", "p hall 1 +[] -[pat]");
    }

    @Test
    void theRoomsListPutsTheMostRecentlyWrittenFirstWithTheirMembers() throws Exception {
        publish("old", "guest:ada", "o1", "first");
        nextMillisecond();
        publish("middle", "guest:ada", "m1", "second");
        publish("middle", "guest:ada", "m2", "second again");
        nextMillisecond();
        publish("new", "guest:ada", "n1", "third");
        Member ada = new Member(0, "ada");
        ada.join("middle", -1);
        Member quiet = new Member(1, "bea");
        quiet.join("quiet", -1);

        List<RoomListing> rooms = broker.rooms(asker(), 10).get(10, TimeUnit.SECONDS);
        assertThat(rooms).extracting(RoomListing::room).containsExactly("new", "middle", "old", "quiet");
        assertThat(rooms).extracting(RoomListing::seq).containsExactly(1L, 2L, 1L, 0L);
        assertThat(rooms).extracting(RoomListing::members).containsExactly(0, 1, 0, 1);
        assertThat(rooms.get(3).lastTime()).as("a room without messages has no last time").isNull();
        assertThat(rooms.get(0).lastTime()).isGreaterThanOrEqualTo(rooms.get(1).lastTime());
        assertThat(broker.rooms(asker(), 2).get(10, TimeUnit.SECONDS)).extracting(RoomListing::room)
                .containsExactly("new", "middle");
    }

    /** Waits for the clock to pass a millisecond, so that the next message is stored later than the last. */
    private static void nextMillisecond() throws InterruptedException {
        long now = System.currentTimeMillis();
        while (System.currentTimeMillis() <= now) {
            Thread.sleep(1);
        }
    }

    private MembersPage members(String room, long after, int limit) throws Exception {
        CompletableFuture<MembersPage> answer = new CompletableFuture<>();
        ExecutorService loop = loops.get(0);
        loop.submit(() -> broker.members(room, after, limit, loop, new MembersListener() {
            @Override
            public void answered(MembersPage page) {
                answer.complete(page);
            }

            @Override
            public void failed(Failure failure) {
                answer.completeExceptionally(new AssertionError(failure));
            }
        })).get();
        return answer.get(10, TimeUnit.SECONDS);
    }

    private CompletableFuture<Replay> poll(String room, long since, boolean wait) throws Exception {
        return poll(room, null, null, since, wait);
    }

    /** A poll by {@code user} named {@code name} (null: anonymous), from the second loop. */
    private CompletableFuture<Replay> poll(String room, String user, String name, long since, boolean wait)
            throws Exception {
        CompletableFuture<Replay> answer = new CompletableFuture<>();
        ExecutorService loop = loops.get(1);
        loop.submit(() -> broker.poll(asker(), room, user, name, since, 100, wait, loop, new PollListener() {
            @Override
            public void answered(Replay replay) {
                answer.complete(replay);
            }

            @Override
            public void failed(Failure failure) {
                answer.completeExceptionally(new AssertionError(failure));
            }
        })).get();
        return answer;
    }

    private static final PublishListener IGNORE = new PublishListener() {
        @Override
        public void stored(StoredMessage message) { }

        @Override
        public void failed(Failure failure) {
            throw new AssertionError(failure);
        }
    };

    private static List<Long> seqs(long from, long to) {
        List<Long> out = new ArrayList<>();
        for (long s = from; s <= to; s++) {
            out.add(s);
        }
        return out;
    }
}
