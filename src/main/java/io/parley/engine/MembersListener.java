package io.parley.engine;

/** Hears the answer to a {@link Broker#members} request, once, on the executor the request named. */
public interface MembersListener {

    void answered(MembersPage page);

    void failed(Failure failure);
}
