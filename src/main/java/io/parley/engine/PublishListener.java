package io.parley.engine;

import io.parley.store.StoredMessage;

/** Hears how a publish ended. Called once, on the publisher's executor. */
public interface PublishListener {

    /**
     * The message is on disk and being delivered; or the same user had already sent this id to this
     * room, and {@code message} is that original (stored once, delivered once).
     */
    void stored(StoredMessage message);

    void failed(Failure failure);
}
