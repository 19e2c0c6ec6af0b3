package io.parley.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.SingleWriterRecorder;

/**
 * Everything counted during a benchmark run: sends, acks, refusals, drops, deliveries, and the
 * end-to-end latency of every delivery of a message sent inside the measured window.
 *
 * <p>Latency is the time from just before a publisher queues a message to the moment a member's
 * transport hands it over, both read from {@link System#nanoTime()} in this process. Messages sent
 * during warm-up are delivered and counted like any other but stay out of the histogram, so that
 * connection set-up and JIT compilation do not show up as latency.
 *
 * <p>Threads: the event methods run on transport I/O threads, many at once, and use only lock-free
 * counters and HdrHistogram's recorders, whose writers never wait. Each I/O thread records latencies
 * into a {@link SingleWriterRecorder} of its own: one shared {@code Recorder} costs every delivery two
 * atomic increments on cache lines that all the threads write, which at two million deliveries a
 * second on two cores is a measurable part of the client's work. Transports run a fixed, small
 * number of I/O threads, so there are few recorders. {@link #takeInterval} is called by one thread at
 * a time (the progress ticker, then the final report) and adds them up.
 */
final class DeliveryTally implements MemberEvents {

    private static final int SIGNIFICANT_DIGITS = 3;
    private static final int DROP_REASONS_KEPT = 5;

    private final Payload payload;
    private final long origin = System.nanoTime();
    /**
     * Latencies in microseconds (plenty of resolution for a network round trip, a smaller histogram),
     * one recorder per recording thread.
     */
    private final List<SingleWriterRecorder> recorders = new CopyOnWriteArrayList<>();
    private final ThreadLocal<SingleWriterRecorder> latencyMicros = ThreadLocal.withInitial(() -> {
        SingleWriterRecorder recorder = new SingleWriterRecorder(SIGNIFICANT_DIGITS);
        recorders.add(recorder);
        return recorder;
    });
    private final Histogram measured = new Histogram(SIGNIFICANT_DIGITS);
    private final Histogram interval = new Histogram(SIGNIFICANT_DIGITS);

    private final LongAdder sent = new LongAdder();
    private final LongAdder acked = new LongAdder();
    private final LongAdder delivered = new LongAdder();
    private final LongAdder deliveredInWindow = new LongAdder();
    private final LongAdder dropped = new LongAdder();
    private final Map<String, LongAdder> rejected = new ConcurrentHashMap<>();
    private final List<String> dropReasons = new ArrayList<>();
    private final LongAdder seqMissing = new LongAdder();
    private final LongAdder seqOutOfOrder = new LongAdder();
    /** Guarded by {@link #dropReasons}, like it. */
    private final List<String> sequenceReasons = new ArrayList<>();

    /** The measured window, in nanoseconds since the origin; empty until {@link #openWindow}. */
    private volatile long windowStart = Long.MAX_VALUE;
    private volatile long windowEnd = Long.MAX_VALUE;

    DeliveryTally(Payload payload) {
        this.payload = payload;
    }

    /** Nanoseconds since this tally was created: the clock that benchmark texts carry. */
    long now() {
        return System.nanoTime() - origin;
    }

    /** Measures what is sent and delivered from {@code start} for {@code length} (nanoseconds since origin). */
    void openWindow(long start, long length) {
        windowEnd = start + length;
        windowStart = start;
    }

    /** A fresh text stamped with the current time; count it with {@link #sent()} once queued. */
    String nextText() {
        return payload.text(now());
    }

    void sent() {
        sent.increment();
    }

    @Override
    public boolean messageReceived(String carrier) {
        return delivered(payload.sentNanos(carrier));
    }

    @Override
    public boolean messageReceived(byte[] carrier, int length) {
        return delivered(payload.sentNanos(carrier, length));
    }

    private boolean delivered(long sentAt) {
        if (sentAt < 0) {
            return false;
        }
        long now = now();
        delivered.increment();
        if (now >= windowStart && now < windowEnd) {
            deliveredInWindow.increment();
        }
        if (sentAt >= windowStart && sentAt < windowEnd) {
            latencyMicros.get().recordValue((now - sentAt) / 1_000);
        }
        return true;
    }

    @Override
    public void sequenceBroken(String member, long expected, long seq) {
        if (seq > expected) {
            seqMissing.add(seq - expected);
        } else {
            seqOutOfOrder.increment();
        }
        synchronized (dropReasons) {
            if (sequenceReasons.size() < DROP_REASONS_KEPT) {
                sequenceReasons.add(member + ": seq " + seq + " where " + expected + " was due");
            }
        }
    }

    @Override
    public void acked() {
        acked.increment();
    }

    @Override
    public void rejected(String code) {
        rejected.computeIfAbsent(code, c -> new LongAdder()).increment();
    }

    @Override
    public void dropped(String member, String why) {
        dropped.increment();
        synchronized (dropReasons) {
            if (dropReasons.size() < DROP_REASONS_KEPT) {
                dropReasons.add(member + ": " + why);
            }
        }
    }

    /**
     * Latencies recorded since the previous call, in microseconds, valid until the next call; they
     * are also added to the run's total ({@link #measured}).
     */
    Histogram takeInterval() {
        interval.reset();
        for (SingleWriterRecorder recorder : recorders) {
            interval.add(recorder.getIntervalHistogram());
        }
        measured.add(interval);
        return interval;
    }

    /** All latencies taken so far by {@link #takeInterval}, in microseconds. */
    Histogram measured() {
        return measured;
    }

    long sentCount() {
        return sent.sum();
    }

    long ackedCount() {
        return acked.sum();
    }

    long deliveredCount() {
        return delivered.sum();
    }

    long deliveredInWindowCount() {
        return deliveredInWindow.sum();
    }

    long droppedCount() {
        return dropped.sum();
    }

    long rejectedCount() {
        return rejected.values().stream().mapToLong(LongAdder::sum).sum();
    }

    /** Refusals by error code, sorted by code. */
    Map<String, Long> rejectedByCode() {
        Map<String, Long> byCode = new TreeMap<>();
        rejected.forEach((code, count) -> byCode.put(code, count.sum()));
        return byCode;
    }

    List<String> dropReasons() {
        synchronized (dropReasons) {
            List<String> reasons = new ArrayList<>(dropReasons);
            reasons.addAll(sequenceReasons);
            return reasons;
        }
    }

    /** Seqs members found missing (summed over members): messages lost on their way. */
    long seqMissingCount() {
        return seqMissing.sum();
    }

    /** Deliveries whose seq was below the one due: out of order or repeated. */
    long seqOutOfOrderCount() {
        return seqOutOfOrder.sum();
    }
}
