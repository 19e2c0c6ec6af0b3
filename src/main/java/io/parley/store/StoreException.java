package io.parley.store;

/**
 * The history store failed: the database is unreachable, locked past its timeout, full, or broken.
 * What was asked did not happen (a failed {@link HistoryStore#append} stored nothing); the caller tells
 * its client {@code store_unavailable} and may retry later.
 */
public final class StoreException extends RuntimeException {

    public StoreException(String what, Throwable cause) {
        super(what + " failed: " + cause.getMessage(), cause);
    }
}
