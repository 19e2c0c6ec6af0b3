package io.parley.engine;

/** Why the engine did not do what it was asked. */
public enum Failure {
    /** The sequencer's queue is full, or the queue of reads from disk, or the asker's share of it. */
    OVERLOADED,
    /** The history store failed; nothing of the request was delivered. */
    STORE_UNAVAILABLE,
    /**
     * A send's id is the id of a stored message of the same user in the same room, with another text: a
     * resend must repeat the original, and a new message needs a new id. Nothing was stored.
     */
    ID_REUSED,
    /** The engine is stopping. */
    SHUTTING_DOWN
}
