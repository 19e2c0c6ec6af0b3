package io.parley.engine;

import java.util.concurrent.Executor;
import java.util.function.Consumer;

/**
 * A poll waiting in a room for its next message. Identity matters: a room removes it by reference.
 * Created on the caller's thread; its fields are fixed; the broker that made it decides what
 * {@link #cancel} does (it queues the removal for its sequencer).
 */
final class Waiter implements Poll {
    final ReadQueue.Asker asker;
    final String room;
    /** The named poller's user id and name, a member of the room while it polls; null when anonymous. */
    final String user;
    final String name;
    final long since;
    final int limit;
    final Executor replyOn;
    final PollListener listener;
    private final Consumer<Waiter> onCancel;

    Waiter(ReadQueue.Asker asker, String room, String user, String name, long since, int limit, Executor replyOn,
           PollListener listener, Consumer<Waiter> onCancel) {
        this.asker = asker;
        this.room = room;
        this.user = user;
        this.name = name;
        this.since = since;
        this.limit = limit;
        this.replyOn = replyOn;
        this.listener = listener;
        this.onCancel = onCancel;
    }

    @Override
    public void cancel() {
        onCancel.accept(this);
    }
}
