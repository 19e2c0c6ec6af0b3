package io.parley.chat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;

/**
 * Requests waiting for one worker thread, bounded: each holds one of a fixed number of places from the
 * moment it is accepted until the worker is done with it, and with every place taken a new one is
 * refused at once, never queued. Nothing accepted is dropped. {@link RoomAccess} bounds room changes
 * with it, {@link Sanctions} moderators' requests.
 *
 * <p>Threads: callers take places on their own thread (an event loop); the work runs, its future
 * completes and the place is given back on the worker.
 */
final class BoundedRequests {

    private final Executor worker;
    private final Semaphore places;
    private final Supplier<ChatException> full;
    private final Supplier<ChatException> closed;

    /**
     * @param full   what a request is refused with when every place is taken
     * @param closed what it is refused with once the worker no longer takes work
     */
    BoundedRequests(Executor worker, int places, Supplier<ChatException> full, Supplier<ChatException> closed) {
        this.worker = worker;
        this.places = new Semaphore(places);
        this.full = full;
        this.closed = closed;
    }

    /**
     * Runs {@code work} on the worker in a place of its own; the future completes there, with what it
     * returned or what it threw.
     *
     * @throws ChatException {@code full}'s when every place is taken, {@code closed}'s once closed
     */
    <T> CompletableFuture<T> submit(Supplier<T> work) {
        reserve();
        CompletableFuture<T> done = new CompletableFuture<>();
        try {
            worker.execute(() -> {
                try {
                    done.complete(work.get());
                } catch (RuntimeException e) {
                    done.completeExceptionally(e);
                } finally {
                    places.release();
                }
            });
        } catch (RejectedExecutionException e) {
            places.release();
            throw closed.get();
        }
        return done;
    }

    /**
     * Takes a place for work that starts elsewhere and reaches the worker later; give it back with
     * {@link #release}, on whatever thread the work ends.
     *
     * @throws ChatException {@code full}'s when every place is taken
     */
    void reserve() {
        if (!places.tryAcquire()) {
            throw full.get();
        }
    }

    /** Gives back a place {@link #reserve}d. */
    void release() {
        places.release();
    }
}
