package io.parley.bench;

import java.io.PrintWriter;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;
import org.HdrHistogram.Histogram;

/**
 * The outcome of one benchmark run, and its printed form.
 *
 * <p>Publishers are room members, so every message is expected once at every subscriber and once at
 * every publisher, its sender included: expected deliveries are messages the server took (sent, less
 * those it refused with an error, which it never stores) times members joined. A run passes when every
 * connection joined and stayed, the server refused no send, and every expected delivery arrived exactly
 * once in number. A refused send is not a lost one: the report says which, and why.
 *
 * @param latencyMicros end-to-end latency of deliveries of messages sent in the measured window
 * @param problems      why connections failed or dropped, the first few
 * @param serverCost    what the measured window cost the server, per delivery, from its counters
 * @param memberCheck   what each member checked itself, when its transport does (the lean client)
 * @param clientCpuMicrosPerDelivery CPU time this process (the load generator) spent per delivery
 *                      over the measured window, when it could be read
 * @param nodes         each node's members and deliveries, for a run spread over several; else empty
 * @param ackedInWindow acks that arrived during the measured window: the rate the server stored and
 *                      confirmed messages at, which falls below {@code --rate} when it cannot keep up
 */
public record BenchReport(
        BenchParameters parameters,
        String transport,
        int subscribersJoined,
        int publishersJoined,
        int connectionsFailed,
        long connectionsDropped,
        List<String> problems,
        long sent,
        long acked,
        Map<String, Long> rejected,
        long delivered,
        long deliveredInWindow,
        Histogram latencyMicros,
        ServerCost serverCost,
        MemberCheck memberCheck,
        OptionalDouble clientCpuMicrosPerDelivery,
        List<NodeShare> nodes,
        long ackedInWindow) {

    /**
     * What members checked one by one: the lean client follows the room's seq at every member, so a
     * message lost or reordered on its way is seen where it happened, and counts each member's own
     * deliveries, so that one member's surplus cannot hide another's loss in the total.
     *
     * @param members       members that counted ({@code 0}: the transport does not check)
     * @param seqMissing    seqs skipped, summed over members
     * @param seqOutOfOrder deliveries whose seq was below the one due
     * @param fewest        the fewest deliveries of the run's messages at one member
     * @param most          the most at one member
     */
    public record MemberCheck(int members, long seqMissing, long seqOutOfOrder, long fewest, long most) {
        public static final MemberCheck NONE = new MemberCheck(0, 0, 0, 0, 0);

        boolean passed(long sent) {
            return seqMissing == 0 && seqOutOfOrder == 0 && (members == 0 || fewest == sent && most == sent);
        }
    }

    public BenchReport {
        Objects.requireNonNull(parameters, "parameters");
        Objects.requireNonNull(serverCost, "serverCost");
        Objects.requireNonNull(memberCheck, "memberCheck");
        Objects.requireNonNull(clientCpuMicrosPerDelivery, "clientCpuMicrosPerDelivery");
        problems = List.copyOf(problems);
        nodes = List.copyOf(nodes);
        rejected = Map.copyOf(rejected);
    }

    public int membersJoined() {
        return subscribersJoined + publishersJoined;
    }

    /** Sends the server refused with an error code (a rate limit, overload): never stored, never due. */
    public long refused() {
        return rejected.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Sends the server did not refuse: each is due once at every member. */
    public long taken() {
        return Math.max(0, sent - refused());
    }

    public long expected() {
        return taken() * membersJoined();
    }

    public long lost() {
        return Math.max(0, expected() - delivered);
    }

    /** Deliveries beyond the expected: duplicates, which a correct server never produces. */
    public long extra() {
        return Math.max(0, delivered - expected());
    }

    public double deliveriesPerSecond() {
        return deliveredInWindow / (parameters.duration().toNanos() / 1e9);
    }

    /** Acknowledged messages a second over the measured window. */
    public double ackedPerSecond() {
        return ackedInWindow / (parameters.duration().toNanos() / 1e9);
    }

    public boolean passed() {
        return connectionsFailed == 0 && connectionsDropped == 0 && refused() == 0 && lost() == 0 && extra() == 0
                && memberCheck.passed(taken());
    }

    public void print(PrintWriter out) {
        long rejectedTotal = refused();
        out.printf(Locale.ROOT, "parley bench over %s%n", transport);
        out.printf(Locale.ROOT, "parameters   %s%n", parameters.asOptions());
        out.printf(Locale.ROOT, "connections  %d joined (%d subscribers, %d publishers), %d failed, %d dropped%n",
                membersJoined(), subscribersJoined, publishersJoined, connectionsFailed, connectionsDropped);
        problems.forEach(problem -> out.printf(Locale.ROOT, "             %s%n", problem));
        out.printf(Locale.ROOT, "messages     sent %d, acked %d, rejected %d%s%n", sent, acked, rejectedTotal,
                rejected.isEmpty() ? "" : " " + rejected);
        out.printf(Locale.ROOT, "deliveries   expected %d (%d taken x %d members; publishers are members and receive"
                + " every message, their own included; a refused send is never stored, so never due)%n",
                expected(), taken(), membersJoined());
        out.printf(Locale.ROOT, "             delivered %d, lost %d%s%n", delivered, lost(),
                extra() == 0 ? "" : ", extra " + extra());
        if (memberCheck.members() > 0) {
            out.printf(Locale.ROOT, "per member   %d members checked every seq: %d missing, %d out of order;"
                            + " each counted %d to %d deliveries (%d due)%n", memberCheck.members(),
                    memberCheck.seqMissing(), memberCheck.seqOutOfOrder(), memberCheck.fewest(), memberCheck.most(),
                    taken());
        }
        for (NodeShare node : nodes) {
            out.printf(Locale.ROOT, "node         %s: %d members, %d deliveries (%.0f%%)%n", node.url(),
                    node.members(), node.deliveries(), delivered == 0 ? 0.0 : 100.0 * node.deliveries() / delivered);
        }
        out.printf(Locale.ROOT, "throughput   %.0f deliveries/s, %.0f messages acknowledged/s over the %d s"
                        + " measured window%n", deliveriesPerSecond(), ackedPerSecond(),
                parameters.duration().toSeconds());
        if (latencyMicros.getTotalCount() == 0) {
            out.printf(Locale.ROOT, "latency      no deliveries in the measured window%n");
        } else {
            out.printf(Locale.ROOT, "latency      p50 %s ms, p99 %s ms, p99.9 %s ms, max %s ms"
                            + " (%d deliveries of messages sent in the measured window)%n",
                    millis(latencyMicros.getValueAtPercentile(50)),
                    millis(latencyMicros.getValueAtPercentile(99)),
                    millis(latencyMicros.getValueAtPercentile(99.9)),
                    millis(latencyMicros.getMaxValue()), latencyMicros.getTotalCount());
        }
        printServerCost(out);
        if (clientCpuMicrosPerDelivery.isPresent()) {
            out.printf(Locale.ROOT, "client cost  %s µs CPU per delivery over the measured window (this process,"
                    + " every thread: what the load generator can take is cores / this)%n",
                    figure(clientCpuMicrosPerDelivery));
        }
        out.printf(Locale.ROOT, "result       %s%n", passed() ? "PASS" : "FAIL: " + String.join(", ", failures()));
        out.flush();
    }

    private void printServerCost(PrintWriter out) {
        if (!serverCost.available()) {
            out.printf(Locale.ROOT, "server cost  n/a (%s)%n", serverCost.unavailable());
            return;
        }
        out.printf(Locale.ROOT, "server cost  per delivered message: %s HTTP requests, %s bytes on the wire"
                        + " (%s received, %s sent), %s µs CPU%n",
                figure(serverCost.requestsPerDelivery()),
                figure(serverCost.bytesPerDelivery()),
                figure(serverCost.perDelivery(MetricsReader.BYTES_RECEIVED)),
                figure(serverCost.perDelivery(MetricsReader.BYTES_SENT)),
                figure(serverCost.cpuMicrosPerDelivery()));
        out.printf(Locale.ROOT, "             from the server's /metrics over %d deliveries in the measured window"
                        + " (the server counted %s)%s; whole-server counters, so only valid for a run alone"
                        + " against the server%n",
                serverCost.deliveries(), count(serverCost.total(MetricsReader.DELIVERIES)),
                nodes.isEmpty() ? "" : ", summed over the " + nodes.size() + " nodes");
        if (serverCost.commitMillis().isPresent()) {
            out.printf(Locale.ROOT, "             store commit before delivery: %s ms per batch on average over %s"
                            + " batches (parley_store_commit_seconds)%n",
                    figure(serverCost.commitMillis()), count(serverCost.total(MetricsReader.COMMITS)));
        }
    }

    /** A counter's increase as a whole number, or "n/a" when it is not known. */
    private static String count(OptionalDouble value) {
        return value.isPresent() ? String.valueOf(Math.round(value.getAsDouble())) : "n/a";
    }

    /** A figure to three significant digits, or "n/a" when it is not known. */
    static String figure(OptionalDouble value) {
        return value.isPresent() ? significant(value.getAsDouble()) : "n/a";
    }

    /** Three significant digits, no exponent, thousands grouped: 0.000512, 3.14, 1,234. */
    static String significant(double value) {
        if (value == 0) {
            return "0";
        }
        BigDecimal rounded = new BigDecimal(value).round(new MathContext(3));
        if (rounded.abs().compareTo(BigDecimal.valueOf(1000)) >= 0) {
            return String.format(Locale.ROOT, "%,d", rounded.longValue());
        }
        return rounded.stripTrailingZeros().toPlainString();
    }

    private List<String> failures() {
        List<String> failures = new ArrayList<>();
        if (connectionsFailed > 0) {
            failures.add(connectionsFailed + " connection(s) failed");
        }
        if (connectionsDropped > 0) {
            failures.add(connectionsDropped + " connection(s) dropped");
        }
        if (refused() > 0) {
            failures.add(refused() + " sends refused by the server " + rejected + ", not lost: "
                    + (rejected.containsKey("rate_limited")
                        ? "its rate limits; start it with --no-rate-limits (and --max-connections-per-ip above"
                          + " the member count) to measure fan-out"
                        : "see the codes in docs/PROTOCOL.md"));
        }
        if (lost() > 0) {
            failures.add(lost() + " deliveries lost");
        }
        if (extra() > 0) {
            failures.add(extra() + " deliveries more than expected");
        }
        if (memberCheck.seqMissing() > 0) {
            failures.add(memberCheck.seqMissing() + " seqs missing at members");
        }
        if (memberCheck.seqOutOfOrder() > 0) {
            failures.add(memberCheck.seqOutOfOrder() + " deliveries out of order");
        }
        long due = taken();
        if (memberCheck.members() > 0 && (memberCheck.fewest() != due || memberCheck.most() != due)) {
            failures.add("a member counted " + (memberCheck.fewest() != due ? memberCheck.fewest() : memberCheck.most())
                    + " deliveries of " + due);
        }
        return failures;
    }

    static String millis(long micros) {
        return String.format(Locale.ROOT, "%.3f", micros / 1000.0);
    }
}
