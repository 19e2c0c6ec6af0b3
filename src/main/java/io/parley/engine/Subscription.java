package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.ArrayList;
import java.util.List;

/**
 * One connection's membership of one room, and the gate its frames pass through.
 *
 * <p>Created by {@link Broker#subscribe} on the subscriber's executor. From then on every method
 * except the final fields runs on that executor only (the engine posts work there), so the state below
 * needs no synchronisation.
 *
 * <p>Why a gate: a join must show the subscriber its history before any live message, with nothing
 * missed and nothing twice. The sequencer adds the subscription to the room and fixes the history's
 * upper bound at the same point in the room's order; live frames that reach the subscription before its
 * history is ready (history read from disk takes a moment) wait in a backlog and are released after it,
 * and a message is never passed on twice because seqs only grow.
 */
public final class Subscription {

    /** Live frames one join may hold back while its history is read; past this the join fails. */
    static final int MAX_BACKLOG = 10_000;

    private enum State { PENDING, LIVE, CLOSED }

    final String room;
    final Subscriber subscriber;
    /** Who: the user id a reconnect is recognised by (a lingering entry of it is taken over). */
    final String user;
    final String name;
    private final JoinListener listener;
    private final Broker broker;

    /** Its number in the room's join order ({@link Room}); sequencer thread only, 0 until added. */
    long memberNumber;

    private State state = State.PENDING;
    private long lastSeq;
    private List<Frame> backlog;

    Subscription(String room, Subscriber subscriber, String user, String name, JoinListener listener, Broker broker) {
        this.room = room;
        this.subscriber = subscriber;
        this.user = user;
        this.name = name;
        this.listener = listener;
        this.broker = broker;
    }

    public String room() {
        return room;
    }

    /**
     * The newest seq this subscriber has been handed for the room, live or in its join's history;
     * {@code Long.MAX_VALUE} while the join is unanswered or after the subscription closed, when there is
     * no live stream to compare with. Subscriber's executor.
     */
    public long handedUpTo() {
        return state == State.LIVE ? lastSeq : Long.MAX_VALUE;
    }

    /** Stops every further frame and callback at once. Subscriber's executor. */
    void close() {
        state = State.CLOSED;
        backlog = null;
    }

    /** The history is ready: tell the listener, then release what waited. Subscriber's executor. */
    void complete(int members, Replay replay) {
        if (state != State.PENDING) {
            return;
        }
        state = State.LIVE;
        List<StoredMessage> history = replay.messages();
        lastSeq = history.isEmpty() ? replay.lastSeq() : Math.max(replay.lastSeq(), history.getLast().seq());
        listener.joined(members, replay);
        if (backlog != null) {
            List<Frame> waiting = backlog;
            backlog = null;
            for (Frame f : waiting) {
                offer(f);
            }
            subscriber.flush();
        }
    }

    /** The join could not be done. Subscriber's executor. */
    void fail(Failure failure) {
        if (state != State.PENDING) {
            return;
        }
        close();
        broker.unsubscribe(this);
        listener.failed(failure);
    }

    /**
     * Passes a batch's frames for the room on in one {@link Subscriber#deliverAll} when this subscriber
     * takes every one of them: it is live and has seen none of the batch's messages. Says whether it
     * dealt with the batch (a closed subscription takes nothing, so it has); if not, the caller offers
     * the frames one by one. Subscriber's executor.
     *
     * @param firstSeq the seq of the batch's first message, 0 when it carries none
     * @param lastSeq  the seq of its last message, 0 when it carries none
     */
    boolean offerAll(byte[][] payloads, long firstSeq, long lastSeq) {
        if (state == State.CLOSED) {
            return true;
        }
        if (state != State.LIVE || firstSeq != 0 && firstSeq <= this.lastSeq) {
            return false;
        }
        if (lastSeq > this.lastSeq) {
            this.lastSeq = lastSeq;
        }
        subscriber.deliverAll(payloads);
        return true;
    }

    /** Passes a live frame on, holds it back, or drops it as already seen. Subscriber's executor. */
    void offer(Frame f) {
        switch (state) {
            case LIVE -> {
                if (f.seq() == 0) {
                    subscriber.deliver(f.bytes());
                } else if (f.seq() > lastSeq) {
                    lastSeq = f.seq();
                    subscriber.deliver(f.bytes());
                }
            }
            case PENDING -> {
                if (backlog == null) {
                    backlog = new ArrayList<>();
                }
                if (backlog.size() >= MAX_BACKLOG) {
                    fail(Failure.OVERLOADED);
                } else {
                    backlog.add(f);
                }
            }
            case CLOSED -> { }
        }
    }
}
