package io.parley.engine;

/**
 * Hears how a subscribe ended. Called once, on the subscriber's executor, before any live frame of the
 * room reaches the subscriber.
 */
public interface JoinListener {

    /**
     * @param members connections in the room, this one included
     * @param replay  the requested history; {@link Replay#lastSeq()} is the room's last seq when the
     *                subscription took effect, and every live message after it has a greater seq
     */
    void joined(int members, Replay replay);

    void failed(Failure failure);
}
