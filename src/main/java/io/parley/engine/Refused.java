package io.parley.engine;

/** A request the engine turned down at once, before it was queued: its listener is not called. */
public final class Refused extends RuntimeException {

    private final Failure failure;

    public Refused(Failure failure) {
        super(failure.name(), null, false, false);
        this.failure = failure;
    }

    public Failure failure() {
        return failure;
    }
}
