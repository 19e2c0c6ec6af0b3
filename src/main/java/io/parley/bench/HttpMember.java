package io.parley.bench;

import io.parley.client.ParleyConnection;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One benchmark member over the HTTP API. It joins by reading the room's latest seq, then reads the
 * messages after the last seq it has seen, again and again, and posts its sends.
 *
 * <ul>
 *   <li><b>Long polling</b> ({@code wait > 0}): the next read goes out as soon as the previous one
 *       is answered; the server holds each read until a message arrives or the wait runs out.</li>
 *   <li><b>Polling</b> ({@code wait == 0}): a read goes out every {@code interval}, at a fixed rate,
 *       the first after a random part of the interval, so that members spread over the interval as
 *       independent clients would instead of all asking at once.</li>
 * </ul>
 * Either way a read whose answer says more messages follow ({@code complete: false}) is followed at
 * once by the next one.
 *
 * <p>A read that fails on the network, or that the server refuses as busy (429, 503), is asked
 * again after a second (or the server's {@code Retry-After}): a polling client loses nothing by
 * it, only time. After {@value #FAILURES_TOLERATED} such failures in a row, or any other refusal,
 * the member stops reading and reports itself dropped.
 *
 * <p>Threads: the read loop is a chain, each read started by the completion of the one before (on
 * the HTTP client's executor) or by the transport's timer, so its state ({@link #since},
 * {@link #failures}) is touched by one step at a time. {@link #send} runs on the pacer thread and
 * only starts a request.
 */
final class HttpMember implements BenchMember {

    private static final int FAILURES_TOLERATED = 5;
    private static final Duration RETRY_DELAY = Duration.ofSeconds(1);

    private final String name;
    private final RoomApi api;
    private final MemberEvents events;
    private final int waitSeconds;
    private final Duration interval;
    private final ScheduledExecutorService timer;
    private volatile boolean stopped;
    private volatile CompletableFuture<?> reading = CompletableFuture.completedFuture(null);
    /** The seq of the last message delivered; read loop only. */
    private long since;
    /** Failed reads in a row; read loop only. */
    private int failures;

    /**
     * @param waitSeconds how long the server may hold a read; 0 for plain polling
     * @param interval    time between the starts of reads; zero to read again at once
     */
    HttpMember(String name, RoomApi api, MemberEvents events, int waitSeconds, Duration interval,
               ScheduledExecutorService timer) {
        this.name = name;
        this.api = api;
        this.events = events;
        this.waitSeconds = waitSeconds;
        this.interval = interval;
        this.timer = timer;
    }

    /** Reads the room's latest seq, then starts the read loop from it. */
    CompletableFuture<BenchMember> start() {
        return api.latestSeq().handle((seq, failure) -> {
            if (failure != null) {
                throw new CompletionException(new IOException(name + ": " + ParleyConnection.describe(failure)));
            }
            since = seq;
            long phase = interval.isZero() ? 0 : ThreadLocalRandom.current().nextLong(interval.toNanos());
            timer.schedule(this::read, phase, TimeUnit.NANOSECONDS);
            return this;
        });
    }

    @Override
    public void send(String id, String text) {
        api.post(name, id, text).whenComplete((acked, failure) -> {
            if (failure == null) {
                events.acked();
            } else {
                events.rejected(unwrap(failure) instanceof RoomApi.Refused refused ? refused.code() : "no_answer");
            }
        });
    }

    @Override
    public CompletableFuture<Void> leave() {
        stopped = true;
        // Cancelling aborts the exchange, so the server stops holding a long poll for nobody.
        reading.cancel(true);
        return CompletableFuture.completedFuture(null);
    }

    private void read() {
        if (stopped) {
            return;
        }
        long startedAt = System.nanoTime();
        CompletableFuture<RoomApi.Page> page = api.since(since, waitSeconds);
        reading = page;
        page.whenComplete((answer, failure) -> {
            if (stopped) {
                return;
            }
            if (failure != null) {
                failed(unwrap(failure));
                return;
            }
            failures = 0;
            deliver(answer);
            if (!answer.complete()) {
                read();
            } else {
                long delay = startedAt + interval.toNanos() - System.nanoTime();
                if (delay <= 0) {
                    read();
                } else {
                    timer.schedule(this::read, delay, TimeUnit.NANOSECONDS);
                }
            }
        });
    }

    private void deliver(RoomApi.Page page) {
        if (page.seq() < since) {
            // The room is behind what this member saw (its data was lost, or this is another server).
            // The protocol says to start again from the room's seq; for a benchmark that is a failure.
            events.dropped(name, "the room went back from seq " + since + " to " + page.seq());
            since = page.seq();
            return;
        }
        if (!page.recovered()) {
            events.dropped(name, "messages after seq " + since + " are gone from the room");
        }
        for (RoomApi.Message message : page.messages()) {
            // An answer may overlap what an earlier one carried; each seq is delivered once.
            if (message.seq() > since) {
                events.messageReceived(message.text());
                since = message.seq();
            }
        }
    }

    private void failed(Throwable cause) {
        Duration delay = RETRY_DELAY;
        if (cause instanceof RoomApi.Refused refused) {
            if (!refused.worthRetrying()) {
                stop(refused.getMessage());
                return;
            }
            delay = refused.retryAfter().compareTo(delay) > 0 ? refused.retryAfter() : delay;
        }
        if (++failures > FAILURES_TOLERATED) {
            stop(failures + " reads in a row failed, the last: " + ParleyConnection.describe(cause));
            return;
        }
        timer.schedule(this::read, delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void stop(String why) {
        stopped = true;
        events.dropped(name, why);
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }
}
