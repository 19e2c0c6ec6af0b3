package io.parley.bench;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

/**
 * What one benchmark run does, as given on the command line.
 *
 * @param urls        server addresses: one, or the nodes of a cluster that share rooms, over which
 *                    members are spread in turn (member i on node i mod n)
 * @param room        the one room every member joins
 * @param subscribers members that only receive
 * @param publishers  members that send, and receive like everybody else
 * @param rate        messages per second, in total over all publishers
 * @param warmup      sending before the measured window; counted, but not in the latency histogram
 * @param duration    the measured window
 * @param drain       the longest wait after the last send for deliveries still in flight
 * @param size        bytes of text per message
 * @param connectRate connections opened per second while setting up
 */
public record BenchParameters(
        List<URI> urls,
        String room,
        int subscribers,
        int publishers,
        int rate,
        Duration warmup,
        Duration duration,
        Duration drain,
        int size,
        int connectRate) {

    public BenchParameters {
        urls = List.copyOf(urls);
        if (urls.isEmpty()) {
            throw new IllegalArgumentException("--url must name at least one server");
        }
        requireAtLeast("subscribers", subscribers, 0);
        requireAtLeast("publishers", publishers, 1);
        requireAtLeast("rate", rate, 1);
        requireAtLeast("size", size, Payload.MIN_SIZE);
        requireAtLeast("connect-rate", connectRate, 1);
        if (warmup.isNegative() || drain.isNegative() || duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("duration must be positive; warmup and drain not negative");
        }
    }

    public int members() {
        return subscribers + publishers;
    }

    /** Messages the run sends in all: the rate over warm-up and measured window together. */
    public long messages() {
        return Math.round(rate * (warmup.toNanos() + duration.toNanos()) / 1e9);
    }

    /** The parameters as {@code parley bench} options, so a report says exactly how to repeat it. */
    public String asOptions() {
        return "--url " + urls.stream().map(URI::toString).collect(Collectors.joining(","))
                + " --room " + room + " --subscribers " + subscribers
                + " --publishers " + publishers + " --rate " + rate + " --warmup " + warmup.toSeconds()
                + " --duration " + duration.toSeconds() + " --drain " + drain.toSeconds()
                + " --size " + size + " --connect-rate " + connectRate;
    }

    private static void requireAtLeast(String option, int value, int minimum) {
        if (value < minimum) {
            throw new IllegalArgumentException("--" + option + " must be at least " + minimum + ", was " + value);
        }
    }
}
