package io.parley.engine;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The read queue's promises, on a real single-thread executor: one asker's pile of reads does not hold
 * another's back, a closed asker's queued reads never run, and the bounds refuse with OVERLOADED.
 */
class ReadQueueTest {

    private final ExecutorService reader = Executors.newSingleThreadExecutor();

    @AfterEach
    void stop() throws InterruptedException {
        reader.shutdownNow();
        assertThat(reader.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
    }

    /** Occupies the reader thread until the latch opens; returns once the read has started. */
    private static CountDownLatch holdReader(ReadQueue queue, ReadQueue.Asker asker) throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        queue.submit(asker, () -> {
            started.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        return release;
    }

    @Test
    void aReadWaitsForOneReadOfEachOtherAskerNotForTheirWholePile() throws Exception {
        ReadQueue queue = new ReadQueue(reader, 1000, 500);
        ReadQueue.Asker flood = queue.asker();
        ReadQueue.Asker bystander = queue.asker();
        CountDownLatch release = holdReader(queue, flood);
        List<String> order = new CopyOnWriteArrayList<>();
        for (int i = 0; i < 200; i++) {
            int n = i;
            queue.submit(flood, () -> order.add("flood " + n));
        }
        CountDownLatch done = new CountDownLatch(1);
        queue.submit(bystander, () -> {
            order.add("bystander");
            done.countDown();
        });

        release.countDown();
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(order.indexOf("bystander")).as("reads run before the bystander's").isLessThanOrEqualTo(1);
    }

    @Test
    void aClosedAskersQueuedReadsNeverRun() throws Exception {
        ReadQueue queue = new ReadQueue(reader, 1000, 500);
        ReadQueue.Asker gone = queue.asker();
        ReadQueue.Asker other = queue.asker();
        CountDownLatch release = holdReader(queue, other);
        AtomicInteger ranForGone = new AtomicInteger();
        for (int i = 0; i < 50; i++) {
            queue.submit(gone, ranForGone::incrementAndGet);
        }
        assertThat(queue.queued()).isEqualTo(50);

        gone.close();
        queue.submit(gone, ranForGone::incrementAndGet);
        CountDownLatch after = new CountDownLatch(1);
        queue.submit(other, after::countDown);
        release.countDown();

        assertThat(after.await(10, TimeUnit.SECONDS)).isTrue();
        // A single thread runs turns in order: every turn of the dropped reads has passed by now.
        reader.submit(() -> { }).get(10, TimeUnit.SECONDS);
        assertThat(ranForGone).as("reads of the closed asker that ran").hasValue(0);
        assertThat(queue.queued()).isZero();
    }

    @Test
    void refusesOverloadedWhenTheAskersShareOrTheWholeQueueIsFull() throws Exception {
        ReadQueue queue = new ReadQueue(reader, 10, 4);
        ReadQueue.Asker first = queue.asker();
        CountDownLatch release = holdReader(queue, first);
        for (int i = 0; i < 4; i++) {
            queue.submit(first, () -> { });
        }
        assertThatThrownBy(() -> queue.submit(first, () -> { }))
                .isInstanceOfSatisfying(Refused.class,
                        e -> assertThat(e.failure()).isEqualTo(Failure.OVERLOADED));

        ReadQueue.Asker second = queue.asker();
        ReadQueue.Asker third = queue.asker();
        for (int i = 0; i < 4; i++) {
            queue.submit(second, () -> { });
        }
        queue.submit(third, () -> { });
        queue.submit(third, () -> { });
        assertThatThrownBy(() -> queue.submit(third, () -> { }))
                .as("the eleventh read, with room in its asker's share")
                .isInstanceOfSatisfying(Refused.class,
                        e -> assertThat(e.failure()).isEqualTo(Failure.OVERLOADED));

        release.countDown();
        CountDownLatch drained = new CountDownLatch(1);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            try {
                queue.submit(third, drained::countDown);
                break;
            } catch (Refused e) {
                Thread.sleep(5);
            }
        }
        assertThat(drained.await(10, TimeUnit.SECONDS)).as("the queue takes reads again once drained").isTrue();
    }
}
