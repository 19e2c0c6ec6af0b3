package io.parley.engine;

import java.util.List;

/**
 * Messages a moderator deleted: every message of {@code room} with {@code after < seq <= upTo} that was
 * not deleted before is a tombstone now, deleted by {@code by} at {@code at}. One seq ({@code upTo ==
 * after + 1}) is a single deletion; a longer range is a clear. Made by the sequencer that stored it.
 *
 * @param seqs the seqs this deletion turned into tombstones, ascending; empty when there were none (no
 *             such message, or deleted already). Known only to the node that stored it: a deletion
 *             another node heard of carries its range only, which is all its members need.
 */
public record Tombstones(String room, long after, long upTo, String by, long at, List<Long> seqs) {

    public Tombstones {
        seqs = List.copyOf(seqs);
    }

    /** Whether it deletes one message (seq {@code upTo}) rather than clearing a range. */
    public boolean single() {
        return upTo == after + 1;
    }

    boolean covers(long seq) {
        return seq > after && seq <= upTo;
    }
}
