package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.List;

/**
 * Stored messages of a room handed to a client that joins or polls, with what it needs to know whether
 * it has everything.
 *
 * @param lastSeq  the room's last seq at that point in its order; every later message has a greater seq
 * @param firstSeq the oldest seq the room still stores (lastSeq + 1 when it stores none)
 * @param messages oldest first
 * @param complete false when more messages were asked for than one reply carries: ask again from the
 *                 last one
 */
public record Replay(long lastSeq, long firstSeq, List<StoredMessage> messages, boolean complete) {

    /**
     * Whether the messages continue right after {@code since}: false when retention deleted some of
     * the messages the client asked for. Null when the client asked for no particular point.
     */
    public Boolean recovered(long since) {
        if (since < 0) {
            return null;
        }
        if (!messages.isEmpty()) {
            return messages.getFirst().seq() == since + 1;
        }
        return since + 1 >= firstSeq || since >= lastSeq;
    }
}
