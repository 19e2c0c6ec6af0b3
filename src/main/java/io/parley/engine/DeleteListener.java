package io.parley.engine;

/** Hears how a {@link Broker#delete} ended, on the executor the caller named. */
public interface DeleteListener {

    /** Stored: {@link Tombstones#seqs()} says which messages it deleted (none, when none was left to delete). */
    void deleted(Tombstones tombstones);

    void failed(Failure failure);
}
