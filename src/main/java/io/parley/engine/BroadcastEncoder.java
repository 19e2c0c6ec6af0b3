package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.List;

/**
 * Turns what the engine broadcasts into wire bytes. The engine calls it once per broadcast, on the
 * sequencer thread, and hands the same bytes to every subscriber. Implemented by the protocol layer;
 * the engine does not know the wire format.
 */
public interface BroadcastEncoder {

    byte[] message(StoredMessage message);

    byte[] presence(String room, int members, List<String> joined, List<String> left);

    /** Messages a moderator deleted, for the members who may have their text on screen. */
    byte[] tombstones(Tombstones tombstones);

    /**
     * A big room's presence: how many are in it, nobody named. By default a presence frame with no
     * names; the protocol marks it as a summary.
     */
    default byte[] presenceCount(String room, int members) {
        return presence(room, members, List.of(), List.of());
    }
}
