package io.parley.engine;

import java.util.concurrent.Executor;

/**
 * One connection's outbound side, as the engine sees it. The transport implements it.
 *
 * <p>Every call the engine makes on a subscriber, and on the listeners it was given, runs on
 * {@link #executor()}: the connection's own event loop. So a connection's state needs no locks, and
 * a batch of deliveries to all subscribers of one event loop costs one task, not one per message.
 */
public interface Subscriber {

    /** The single thread this subscriber is confined to. */
    Executor executor();

    /**
     * Queue one encoded frame. The same array is handed to every subscriber of a broadcast, all
     * subscribers of one executor in a row; it must not be changed. Writes are not flushed until
     * {@link #flush()}.
     */
    void deliver(byte[] frame);

    /**
     * Queue several encoded frames, in order, as one write: what one batch brought a room. Same rules as
     * {@link #deliver}: the same array goes to every subscriber of the executor that takes the batch
     * whole, and must not be changed. By default, one {@link #deliver} per frame.
     */
    default void deliverAll(byte[][] frames) {
        for (byte[] frame : frames) {
            deliver(frame);
        }
    }

    /** End of a burst of {@link #deliver} calls. */
    void flush();
}
