package io.parley.engine;

/** A poll that may still be waiting for a room's next message. */
public interface Poll {

    /** Stops waiting; the listener is not called afterwards by the engine unless it already was. */
    void cancel();
}
