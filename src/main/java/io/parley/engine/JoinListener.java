package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.List;

/**
 * Hears how a subscribe ended. Called once, on the subscriber's executor, before any live frame of the
 * room reaches the subscriber.
 */
public interface JoinListener {

    /**
     * @param lastSeq  the room's last seq when the subscription took effect; every live message after
     *                 this has a greater seq
     * @param members  connections in the room, this one included
     * @param history  the requested messages, oldest first
     * @param complete false when more messages were asked for than one reply carries
     */
    void joined(long lastSeq, int members, List<StoredMessage> history, boolean complete);

    void failed(Failure failure);
}
