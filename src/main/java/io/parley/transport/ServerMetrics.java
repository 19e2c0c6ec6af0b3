package io.parley.transport;

import com.sun.management.OperatingSystemMXBean;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.group.ChannelGroup;
import io.parley.engine.Broker;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.LongStream;

/**
 * What {@code GET /metrics} shows, in the Prometheus text format: traffic on the sockets, HTTP
 * requests, connections, messages stored and delivered, the process's CPU time, and the JVM's memory
 * and threads. docs/PROTOCOL.md names the Parley metrics; {@code parley bench} reads them to put a
 * cost on each delivered message.
 *
 * <p>The counters are {@link LongAdder}s bumped on the event loops (by {@link TrafficMeter} and
 * {@link Admission}) and read only when scraped; Micrometer reads the engine's own counters the same
 * way, so nothing on the hot path knows about Micrometer.
 */
final class ServerMetrics {

    /** Bucket bounds of {@code parley_store_commit_seconds}: from a fast SQLite commit to a stalled disk. */
    private static final Duration[] COMMIT_BUCKETS = LongStream.of(100, 250, 500, 1_000, 2_500, 5_000, 10_000,
            25_000, 100_000, 1_000_000).mapToObj(micros -> Duration.of(micros, ChronoUnit.MICROS)).toArray(Duration[]::new);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final LongAdder bytesReceived = new LongAdder();
    private final LongAdder bytesSent = new LongAdder();
    private final LongAdder httpRequests = new LongAdder();

    ServerMetrics(Broker broker, ChannelGroup webSockets, ConnectionCounts connections) {
        FunctionCounter.builder("parley.bytes.received", bytesReceived, LongAdder::sum)
                .description("Bytes read from every socket, HTTP and WebSocket, TLS included").register(registry);
        FunctionCounter.builder("parley.bytes.sent", bytesSent, LongAdder::sum)
                .description("Bytes written to every socket, HTTP and WebSocket, TLS included").register(registry);
        FunctionCounter.builder("parley.http.requests", httpRequests, LongAdder::sum)
                .description("HTTP requests received, WebSocket handshakes included").register(registry);
        FunctionCounter.builder("parley.messages.stored", broker, Broker::storedCount)
                .description("Chat messages written to the store").register(registry);
        FunctionCounter.builder("parley.deliveries", broker, Broker::deliveryCount)
                .description("Chat messages handed to WebSocket members and to HTTP polls").register(registry);
        // The commit every message waits for before delivery (docs/BENCHMARKS.md, "Latency at a fixed
        // rate"): a few fixed buckets rather than a percentile histogram's seventy lines a scrape.
        Timer commits = Timer.builder("parley.store.commit")
                .description("Time to write one batch of sends to the store, commit included, before any delivery")
                .serviceLevelObjectives(COMMIT_BUCKETS)
                .register(registry);
        broker.onCommit(nanos -> commits.record(nanos, TimeUnit.NANOSECONDS));
        Gauge.builder("parley.connections", webSockets, ChannelGroup::size)
                .tag("transport", "websocket").description("Open WebSocket connections").register(registry);
        Gauge.builder("parley.connections", connections, c -> Math.max(0, c.open() - webSockets.size()))
                .tag("transport", "http").description("Open connections not upgraded to WebSocket").register(registry);
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        // Micrometer's own process.cpu.time counts nanoseconds; Prometheus' convention is seconds, and
        // this is the one parley bench divides by deliveries.
        if (ManagementFactory.getOperatingSystemMXBean() instanceof OperatingSystemMXBean os) {
            FunctionCounter.builder("process.cpu.time.seconds", os, o -> o.getProcessCpuTime() / 1e9)
                    .description("CPU time used by the server process, in seconds").register(registry);
        }
        new UptimeMetrics().bindTo(registry);
    }

    void received(long bytes) {
        bytesReceived.add(bytes);
    }

    void sent(long bytes) {
        bytesSent.add(bytes);
    }

    void httpRequest() {
        httpRequests.increment();
    }

    /** The Prometheus text exposition. */
    String scrape() {
        return registry.scrape();
    }
}
