package io.parley.chat;

/**
 * Lets the chat slow a client down: while reading is paused the transport takes no more requests from
 * the connection, so TCP flow control holds the sender back. Called on the connection's own thread.
 */
public interface ReadControl {

    void pauseReading();

    void resumeReading();
}
