package io.parley.engine;

import io.parley.store.StoredMessage;

/** Hears how a publish ended. Called once, on the publisher's executor. */
public interface PublishListener {

    /** The message is on disk and being delivered. */
    void stored(StoredMessage message);

    void failed(Failure failure);
}
