package io.parley.engine;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A batch's frames for a room go to each member that takes all of them as one {@code deliverAll} (one
 * write), and frame by frame, gated as before, to members that do not: a join still waiting for its
 * history, a member that has already seen part of the batch.
 */
class BatchDeliveryTest {

    /** Records each call: a whole batch as one entry, a single frame as another. */
    static final class Writes implements Subscriber {
        final ExecutorService loop;
        final List<String> calls = new ArrayList<>();

        Writes(ExecutorService loop) {
            this.loop = loop;
        }

        @Override
        public ExecutorService executor() {
            return loop;
        }

        @Override
        public void deliver(byte[] frame) {
            calls.add(new String(frame, StandardCharsets.UTF_8));
        }

        @Override
        public void deliverAll(byte[][] frames) {
            List<String> batch = new ArrayList<>();
            for (byte[] f : frames) {
                batch.add(new String(f, StandardCharsets.UTF_8));
            }
            calls.add(String.join("+", batch));
        }

        @Override
        public void flush() { }
    }

    private static Frame frame(long seq, String text) {
        return new Frame(seq, text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void membersThatTakeTheWholeBatchGetOneWriteAndTheOthersAreGatedFrameByFrame() throws Exception {
        ExecutorService loop = Executors.newSingleThreadExecutor();
        try {
            Writes fresh = new Writes(loop);
            Writes partly = new Writes(loop);
            Writes joining = new Writes(loop);
            Subscription live = new Subscription("hall", fresh, "guest:a", "a", FanOutTest.IGNORE_JOIN, null);
            Subscription sawTwo = new Subscription("hall", partly, "guest:b", "b", FanOutTest.IGNORE_JOIN, null);
            Subscription pending = new Subscription("hall", joining, "guest:c", "c", FanOutTest.IGNORE_JOIN, null);
            loop.submit(() -> {
                live.complete(1, new Replay(0, 1, List.of(), true));
                sawTwo.complete(1, new Replay(2, 1, List.of(), true));
            }).get();

            LoopTasks tasks = new LoopTasks((thread, error) -> { throw new AssertionError(error); });
            tasks.deliver(loop, new Subscription[] {live, sawTwo, pending},
                    new Frame[] {frame(1, "m1"), frame(2, "m2"), frame(3, "m3"), frame(0, "presence")});
            tasks.post();
            loop.submit(() -> { }).get(5, TimeUnit.SECONDS);

            assertThat(fresh.calls).containsExactly("m1+m2+m3+presence");
            assertThat(partly.calls).as("seqs 1 and 2 already seen: dropped, the rest one by one")
                    .containsExactly("m3", "presence");
            assertThat(joining.calls).as("held back until its history is ready").isEmpty();

            loop.submit(() -> pending.complete(1, new Replay(1, 1, List.of(), true))).get();
            assertThat(joining.calls).as("released after its history, what it had not seen")
                    .containsExactly("m2", "m3", "presence");

            // The next batch finds every member live and caught up: one write each.
            LoopTasks next = new LoopTasks((thread, error) -> { throw new AssertionError(error); });
            next.deliver(loop, new Subscription[] {live, sawTwo, pending}, new Frame[] {frame(4, "m4"), frame(5, "m5")});
            next.post();
            loop.submit(() -> { }).get(5, TimeUnit.SECONDS);
            assertThat(fresh.calls).endsWith("m4+m5");
            assertThat(partly.calls).endsWith("m4+m5");
            assertThat(joining.calls).endsWith("m4+m5");
        } finally {
            loop.shutdownNow();
        }
    }
}
