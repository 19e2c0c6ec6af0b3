package io.parley.engine.cluster;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.fail;

/** What the cluster tests share: a listener that records, and polling with a deadline. */
final class Nodes {

    private Nodes() {
    }

    /** A payload as a node received it. */
    record Received(String room, String text) {
    }

    /** Records what a link hands its owner. */
    static final class Recorder implements RedisLink.Listener {
        final ConcurrentLinkedQueue<Received> messages = new ConcurrentLinkedQueue<>();
        final AtomicInteger restored = new AtomicInteger();

        @Override
        public void message(String room, byte[] payload) {
            messages.add(new Received(room, new String(payload, java.nio.charset.StandardCharsets.UTF_8)));
        }

        @Override
        public void restored() {
            restored.incrementAndGet();
        }

        boolean got(String room, String text) {
            return messages.contains(new Received(room, text));
        }

        List<Received> all() {
            return List.copyOf(messages);
        }
    }

    static void await(Duration within, String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("not within " + within + ": " + what);
            }
            Thread.sleep(20);
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
