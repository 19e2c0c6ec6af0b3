package io.parley.engine;

/** Hears how a {@link Broker#poll} ended. Called at most once, on the executor the poll named. */
public interface PollListener {

    /** Messages after the poll's {@code since}, or none if the wait ran out first. */
    void answered(Replay replay);

    void failed(Failure failure);
}
