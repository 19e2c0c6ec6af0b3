package io.parley.engine;

/**
 * An encoded broadcast on its way to subscribers. {@code seq} is the message's seq, or 0 for frames that
 * are not messages (presence), which are never deduplicated.
 */
record Frame(long seq, byte[] bytes) {
}
