package io.parley.engine;

/** Why the engine did not do what it was asked. */
public enum Failure {
    /** The sequencer's queue is full, or the queue of reads from disk, or the asker's share of it. */
    OVERLOADED,
    /** The history store failed; nothing of the request was delivered. */
    STORE_UNAVAILABLE,
    /** The engine is stopping. */
    SHUTTING_DOWN
}
