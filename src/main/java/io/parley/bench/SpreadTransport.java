package io.parley.bench;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Members spread over several nodes that share rooms (Parley with {@code --redis-url}): member {@code i}
 * joins through node {@code i mod n}, publishers as well as subscribers, so every node has members
 * and sends of its own and a message crosses nodes on its way to most of its deliveries. Each node is
 * reached through a transport of its own; this one counts, per node, the members that joined there and
 * the deliveries they got, so a report can show that the load really was spread.
 *
 * <p>Threads: {@link #join} runs on the bench's pacer thread; the counting wrapper around the run's
 * {@link MemberEvents} runs on the node transports' I/O threads, and adds one {@link LongAdder}
 * increment per delivery.
 */
public final class SpreadTransport implements BenchTransport {

    private record Node(URI url, BenchTransport transport, LongAdder members, LongAdder deliveries) {
    }

    private final List<Node> nodes = new ArrayList<>();
    private final AtomicInteger joins = new AtomicInteger();

    /** One transport per node, {@code open(url)} for each of {@code urls}, in order. */
    public SpreadTransport(List<URI> urls, Function<URI, BenchTransport> open) {
        if (urls.isEmpty()) {
            throw new IllegalArgumentException("no node to spread members over");
        }
        try {
            for (URI url : urls) {
                nodes.add(new Node(url, open.apply(url), new LongAdder(), new LongAdder()));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public String name() {
        return nodes.getFirst().transport().name();
    }

    @Override
    public CompletableFuture<BenchMember> join(String name, String room, MemberEvents events) {
        Node node = nodes.get(Math.floorMod(joins.getAndIncrement(), nodes.size()));
        return node.transport().join(name, room, new CountedAt(events, node.deliveries()))
                .thenApply(member -> {
                    node.members().increment();
                    return member;
                });
    }

    @Override
    public List<NodeShare> nodes() {
        return nodes.stream()
                .map(node -> new NodeShare(node.url(), node.members().sum(), node.deliveries().sum()))
                .toList();
    }

    @Override
    public void close() {
        for (Node node : nodes) {
            node.transport().close();
        }
    }

    /** The run's events, with each of the run's deliveries also counted for the node it arrived through. */
    private record CountedAt(MemberEvents events, LongAdder deliveries) implements MemberEvents {

        @Override
        public boolean messageReceived(String carrier) {
            boolean ours = events.messageReceived(carrier);
            if (ours) {
                deliveries.increment();
            }
            return ours;
        }

        @Override
        public boolean messageReceived(byte[] carrier, int length) {
            boolean ours = events.messageReceived(carrier, length);
            if (ours) {
                deliveries.increment();
            }
            return ours;
        }

        @Override
        public void sequenceBroken(String member, long expected, long seq) {
            events.sequenceBroken(member, expected, seq);
        }

        @Override
        public void acked() {
            events.acked();
        }

        @Override
        public void rejected(String code) {
            events.rejected(code);
        }

        @Override
        public void dropped(String member, String why) {
            events.dropped(member, why);
        }
    }
}
