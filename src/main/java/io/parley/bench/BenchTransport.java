package io.parley.bench;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * How the benchmark's room members reach the server. The workload ({@link BenchRun}: pacing,
 * latency, report) is written against this interface only, so that the same run can be measured
 * over another transport by adding an implementation; {@link WebSocketTransport} is the first.
 *
 * <p>Implementations call {@link MemberEvents} from their own I/O threads, concurrently for
 * different members.
 */
public interface BenchTransport extends AutoCloseable {

    /** The name the report shows, as given to {@code --transport}. */
    String name();

    /**
     * Connects one member, greets the server as {@code name} and joins {@code room}. The future
     * completes once the server has confirmed the join, and fails with a reason a person can read
     * (refused, timed out, closed) otherwise; either way within a bounded time, because the run waits
     * for it. Events for the member flow from the join on.
     */
    CompletableFuture<BenchMember> join(String name, String room, MemberEvents events);

    /**
     * Each node's share of the members and deliveries so far, when this transport spreads members
     * over several ({@link SpreadTransport}); empty for one server.
     */
    default List<NodeShare> nodes() {
        return List.of();
    }

    /** Releases connections and threads; members still open are dropped. */
    @Override
    void close();
}
