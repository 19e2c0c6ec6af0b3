package io.parley.bench;

import java.util.concurrent.CompletableFuture;

/** One joined room member of a benchmark, on whatever transport it was opened. */
public interface BenchMember {

    /** Sends a chat message to the room; never blocks (transports queue). */
    void send(String id, String text);

    /** Leaves normally; what the member reports after this is not a drop. */
    CompletableFuture<Void> leave();

    /** Deliveries of the run's messages this member counted itself, or -1 if its transport counts none. */
    default long deliveries() {
        return -1;
    }
}
