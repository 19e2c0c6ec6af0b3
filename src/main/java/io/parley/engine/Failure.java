package io.parley.engine;

/** Why the engine did not do what it was asked. */
public enum Failure {
    /** The sequencer's queue is full. */
    OVERLOADED,
    /** The history store failed; nothing of the request was delivered. */
    STORE_UNAVAILABLE,
    /** The engine is stopping. */
    SHUTTING_DOWN
}
