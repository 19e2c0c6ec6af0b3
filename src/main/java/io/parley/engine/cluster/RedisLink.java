package io.parley.engine.cluster;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.DefaultClientResources;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;

/**
 * This node's line to the other nodes of a cluster: Redis sharded pub/sub, one channel per room.
 *
 * <p><b>What goes over it.</b> After a node's sequencer commits a batch in PostgreSQL it calls
 * {@link #publish} once per room with that room's encoded messages ({@link RoomBatchCodec}); each
 * other node that has members in the room has {@link #subscribe subscribed} to the room's channel and
 * gets the bytes in {@link Listener#message}. Redis pub/sub is fire and forget: a publish can be lost
 * (Redis down, a node's connection dropping). The receiving engine orders by seq and fills gaps from
 * PostgreSQL; this class only promises that after any disruption of its subscriptions it calls
 * {@link Listener#restored} once they are all in place again, so the engine can catch every room up.
 *
 * <p><b>Channels.</b> Room {@code r} is channel {@code parley:{r}}: SSUBSCRIBE / SPUBLISH (Redis 7
 * sharded pub/sub). In a Redis Cluster a sharded channel lives on the master owning its slot, and
 * the hash tag puts the room's presence keys ({@link RedisPresence}) in the same slot. Lettuce 7.7
 * routes SSUBSCRIBE on a cluster pub/sub connection by the channel's slot to a pub/sub connection of
 * that master and propagates its messages to our listener (checked by {@code RedisLinkTest} on three
 * masters), so this class does not route by itself. Each node connection resubscribes its own channels
 * when it reconnects.
 *
 * <p><b>Envelope.</b> A published payload is prefixed with {@code 0xB1, len, nodeId} so that this node
 * drops its own messages without decoding them. {@link Listener#message} gets the payload without it.
 *
 * <p><b>Reconnects.</b> Lettuce reconnects by itself (every 0.1 s doubling up to 2 s), and resubscribes
 * each connection's sharded channels. This class watches its pub/sub connections: when one drops, or
 * Redis unsubscribes a channel on its own (a slot moved to another master), it marks the link
 * disrupted and tries, every 2 s and {@value #RETRY_MILLIS} ms after a pub/sub connection is back, to
 * issue SSUBSCRIBE for every room it holds (repeating one is harmless; while Redis is down each attempt
 * is rejected locally at once). When one pass succeeds with no new drop meanwhile, it calls
 * {@link Listener#restored}. A Redis emptied in place (FLUSHALL) keeps its
 * subscriptions, and nothing is disrupted.
 *
 * <p><b>Never blocking.</b> {@link #connect} blocks (at start, up to a few seconds per node) and fails
 * if Redis cannot be reached: a node that silently had no Redis would be a split brain. After that, no
 * method blocks. While a connection is down, commands are rejected at once rather than queued
 * (Lettuce's REJECT_COMMANDS), and at most {@value #QUEUE_LIMIT} commands wait while connected, so a
 * stalled Redis costs bounded memory: {@link #publish} failures are counted and logged (one warning per
 * 10 s); {@link #subscribe}'s stage fails, but the room stays held and {@link Listener#restored} follows
 * once it is in place.
 *
 * <p><b>Threads.</b> Any thread may call {@link #subscribe}, {@link #unsubscribe}, {@link #publish}.
 * {@link Listener} methods run on Lettuce's I/O threads (messages) or this link's own scheduler thread
 * (restored): they must hand off at once (enqueue for the sequencer) and never block.
 */
public final class RedisLink implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RedisLink.class);

    /** What the link tells its owner. Called on Lettuce's threads: hand off, never block. */
    public interface Listener {
        /** A payload another node published on {@code room}'s channel, while this link held it. */
        void message(String room, byte[] payload);

        /** Every held subscription is in place again after a disruption: messages may have been missed. */
        void restored();
    }

    static final String CHANNEL_PREFIX = "parley:{";
    /** Node ids go inside hash tags and presence fields ({@code node/name}): no braces, no slash. */
    static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    private static final byte ENVELOPE = (byte) 0xB1;
    private static final long RETRY_MILLIS = 200;
    private static final long MAX_RETRY_MILLIS = 2_000;
    /** Commands that may wait for a reply on one connection; a publish beyond it fails at once. */
    static final int QUEUE_LIMIT = 20_000;
    /** A command without a reply by then fails, so nothing waits forever on a hung Redis. */
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(5);
    private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

    private final String nodeId;
    private final byte[] header;
    private final Listener listener;
    private final boolean cluster;
    private final ClientResources resources;
    private final AbstractRedisClient client;
    private final StatefulRedisPubSubConnection<String, byte[]> pubsub;
    private final RedisClusterAsyncCommands<String, byte[]> dataCommands;
    private final RedisClusterAsyncCommands<String, String> textCommands;
    private final ScheduledExecutorService scheduler;

    private final Set<String> rooms = ConcurrentHashMap.newKeySet();
    /** Rooms whose SUNSUBSCRIBE failed: still subscribed in Redis after a reconnect, to drop. */
    private final Set<String> undropped = ConcurrentHashMap.newKeySet();
    /** Our SUNSUBSCRIBEs not yet confirmed, by room. */
    private final Map<String, AtomicInteger> ownUnsubscribes = new ConcurrentHashMap<>();
    private final AtomicBoolean disrupted = new AtomicBoolean();
    private final AtomicLong disruptions = new AtomicLong();
    /** The next restore pass, if one is scheduled. Guarded by this. */
    private ScheduledFuture<?> pendingRestore;
    private volatile long retryMillis = RETRY_MILLIS;
    private volatile boolean closed;

    private final LongAdder published = new LongAdder();
    private final LongAdder publishFailures = new LongAdder();
    private final LongAdder received = new LongAdder();
    private final LongAdder malformed = new LongAdder();
    private final AtomicLong restorations = new AtomicLong();
    private final LogThrottle publishLog = new LogThrottle(log, "publishing to Redis");
    private final LogThrottle envelopeLog = new LogThrottle(log, "reading a Redis message's envelope");

    private RedisLink(RedisAddress address, String nodeId, Listener listener) {
        if (!NODE_ID.matcher(nodeId).matches()) {
            throw new IllegalArgumentException("a node id is 1 to 64 of [A-Za-z0-9_.-]: " + nodeId);
        }
        this.nodeId = nodeId;
        byte[] id = nodeId.getBytes(StandardCharsets.UTF_8);
        if (id.length > 255) {
            throw new IllegalArgumentException("node id too long");
        }
        this.header = new byte[2 + id.length];
        header[0] = ENVELOPE;
        header[1] = (byte) id.length;
        System.arraycopy(id, 0, header, 2, id.length);
        this.listener = listener;
        this.cluster = address.cluster();
        this.resources = DefaultClientResources.builder()
                .ioThreadPoolSize(2)
                .computationThreadPoolSize(2)
                .reconnectDelay(Delay.exponential(Duration.ofMillis(100), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
                .build();
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "parley-redis-link");
            t.setDaemon(true);
            return t;
        });
        SocketOptions socket = SocketOptions.builder().connectTimeout(RedisAddress.CONNECT_TIMEOUT).keepAlive(true).build();
        try {
            if (cluster) {
                RedisClusterClient c = RedisClusterClient.create(resources, address.uris());
                c.setOptions(ClusterClientOptions.builder()
                        .autoReconnect(true)
                        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                        .requestQueueSize(QUEUE_LIMIT)
                        .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT))
                        .socketOptions(socket)
                        .topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
                                .enablePeriodicRefresh(Duration.ofSeconds(15))
                                .enableAllAdaptiveRefreshTriggers()
                                .build())
                        .build());
                this.client = c;
                c.addListener(new Watcher());
                StatefulRedisClusterPubSubConnection<String, byte[]> ps = c.connectPubSub(CODEC);
                StatefulRedisClusterConnection<String, byte[]> d = c.connect(CODEC);
                StatefulRedisClusterConnection<String, String> t = c.connect(StringCodec.UTF8);
                // With REJECT_COMMANDS, a command routed to a master whose connection is still being opened
                // fails; open every master's connections now, so that the first publish to a room does not.
                for (RedisClusterNode node : c.getPartitions()) {
                    if (node.is(RedisClusterNode.NodeFlag.UPSTREAM)) {
                        RedisURI uri = node.getUri();
                        ps.getConnection(uri.getHost(), uri.getPort());
                        d.getConnection(uri.getHost(), uri.getPort());
                        t.getConnection(uri.getHost(), uri.getPort());
                    }
                }
                this.pubsub = ps;
                this.dataCommands = d.async();
                this.textCommands = t.async();
            } else {
                RedisClient c = RedisClient.create(resources, address.uris().getFirst());
                c.setOptions(ClientOptions.builder()
                        .autoReconnect(true)
                        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                        .requestQueueSize(QUEUE_LIMIT)
                        .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT))
                        .socketOptions(socket)
                        .build());
                this.client = c;
                c.addListener(new Watcher());
                this.pubsub = c.connectPubSub(CODEC);
                StatefulRedisConnection<String, byte[]> d = c.connect(CODEC);
                StatefulRedisConnection<String, String> t = c.connect(StringCodec.UTF8);
                this.dataCommands = d.async();
                this.textCommands = t.async();
            }
        } catch (RuntimeException e) {
            shutdownClient();
            throw e;
        }
        pubsub.addListener(new Receiver());
    }

    /**
     * Connects to Redis (blocking, at start) and returns the link; throws if Redis cannot be reached.
     *
     * @param nodeId   this node's id, unique among the nodes (a random one per process is right)
     * @param listener gets other nodes' payloads and {@code restored()}; called on Lettuce's threads
     */
    public static RedisLink connect(RedisAddress address, String nodeId, Listener listener) {
        RedisLink link = new RedisLink(address, nodeId, listener);
        log.info("connected to Redis {} as node {}", address, nodeId);
        return link;
    }

    public String nodeId() {
        return nodeId;
    }

    /** The channel of a room; throws for a name that is not a room name (it goes inside a hash tag). */
    static String channel(String room) {
        if (!RoomBatchCodec.ROOM.matcher(room).matches()) {
            throw new IllegalArgumentException("not a room name: " + room);
        }
        return CHANNEL_PREFIX + room + "}";
    }

    /**
     * Starts receiving other nodes' payloads for {@code room}. The stage completes when Redis confirmed
     * the subscription. If it fails (Redis down), the room stays held: it is subscribed as soon as it can
     * be, and {@link Listener#restored} is called then.
     */
    public CompletionStage<Void> subscribe(String room) {
        String channel = channel(room);
        rooms.add(room);
        undropped.remove(room);
        CompletableFuture<Void> done = new CompletableFuture<>();
        ssubscribe(channel).whenComplete((v, e) -> {
            if (e != null) {
                if (rooms.contains(room)) {
                    disrupt("subscribing to " + channel + " failed: " + e);
                    scheduleRestore(retryMillis);
                }
                done.completeExceptionally(e);
            } else {
                done.complete(null);
            }
        });
        return done;
    }

    /** Stops receiving {@code room}'s payloads; nothing more is delivered for it once this is called. */
    public CompletionStage<Void> unsubscribe(String room) {
        String channel = channel(room);
        if (!rooms.remove(room)) {
            return CompletableFuture.completedFuture(null);
        }
        return sunsubscribe(room);
    }

    /**
     * Sends SUNSUBSCRIBE, noting it as ours so that its confirmation is not taken for Redis dropping a
     * room. If it fails (Redis down), Lettuce would subscribe the channel again when it reconnects:
     * the next restore pass unsubscribes it.
     */
    private CompletableFuture<Void> sunsubscribe(String room) {
        ownUnsubscribes.computeIfAbsent(room, r -> new AtomicInteger()).incrementAndGet();
        CompletableFuture<Void> sent;
        try {
            sent = pubsub.async().sunsubscribe(channel(room)).toCompletableFuture();
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        return sent.whenComplete((v, e) -> {
            if (e != null) {
                ownUnsubscribes.computeIfPresent(room, (r, n) -> n.decrementAndGet() <= 0 ? null : n);
                if (!rooms.contains(room)) {
                    undropped.add(room);
                }
            }
        });
    }

    /** Whether this link holds {@code room} (subscribed, or to be subscribed again after a disruption). */
    public boolean holds(String room) {
        return rooms.contains(room);
    }

    /**
     * Publishes {@code payload} on {@code room}'s channel, for the other nodes. Returns at once; a failure
     * is counted ({@link #publishFailures()}) and logged, never thrown: the receivers' gap filling and
     * {@link Listener#restored} cover a lost publish.
     */
    public void publish(String room, byte[] payload) {
        String channel = channel(room);
        byte[] envelope = Arrays.copyOf(header, header.length + payload.length);
        System.arraycopy(payload, 0, envelope, header.length, payload.length);
        try {
            dataCommands.spublish(channel, envelope).whenComplete((receivers, e) -> {
                if (e != null) {
                    publishFailed(e);
                } else {
                    published.increment();
                }
            });
        } catch (RuntimeException e) {
            publishFailed(e);
        }
    }

    private void publishFailed(Throwable e) {
        publishFailures.increment();
        publishLog.warn(e);
    }

    /** Publishes that Redis accepted. */
    public long published() {
        return published.sum();
    }

    /** Publishes that failed (Redis down, queue full, timeout). */
    public long publishFailures() {
        return publishFailures.sum();
    }

    /** Payloads of other nodes handed to the listener. */
    public long received() {
        return received.sum();
    }

    /** Messages on a room channel without a valid envelope, dropped. */
    public long malformed() {
        return malformed.sum();
    }

    /** How many times {@link Listener#restored} was called. */
    public long restorations() {
        return restorations.get();
    }

    /** Commands on a plain (not pub/sub) connection, for {@link RedisPresence}. */
    RedisClusterAsyncCommands<String, String> commands() {
        return textCommands;
    }

    boolean cluster() {
        return cluster;
    }

    private CompletableFuture<Void> ssubscribe(String channel) {
        try {
            return pubsub.async().ssubscribe(channel).toCompletableFuture();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private void disrupt(String why) {
        if (closed) {
            return;
        }
        disruptions.incrementAndGet();
        if (disrupted.compareAndSet(false, true)) {
            log.warn("Redis subscriptions disrupted ({}); they are restored when Redis is back", why);
        }
    }

    /** Runs {@link #restore} in {@code delayMillis}, unless a pass is already due sooner. */
    private synchronized void scheduleRestore(long delayMillis) {
        if (closed) {
            return;
        }
        if (pendingRestore != null && !pendingRestore.isDone()) {
            if (pendingRestore.getDelay(TimeUnit.MILLISECONDS) <= delayMillis) {
                return;
            }
            pendingRestore.cancel(false);
        }
        try {
            pendingRestore = scheduler.schedule(this::restore, delayMillis, TimeUnit.MILLISECONDS);
        } catch (RuntimeException shutDown) {
            pendingRestore = null;
        }
    }

    /** Subscribes every held room again; once all succeed with no disruption meanwhile, tells the owner. */
    private void restore() {
        if (closed || !disrupted.get()) {
            return;
        }
        long seen = disruptions.get();
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (String room : rooms) {
            all.add(ssubscribe(channel(room)));
        }
        for (String room : List.copyOf(undropped)) {
            if (!rooms.contains(room) && undropped.remove(room)) {
                all.add(sunsubscribe(room));
            }
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).whenComplete((v, e) -> {
            if (closed) {
                return;
            }
            if (e != null || disruptions.get() != seen) {
                retryMillis = Math.min(MAX_RETRY_MILLIS, retryMillis * 2);
                scheduleRestore(retryMillis);
                return;
            }
            retryMillis = RETRY_MILLIS;
            if (disrupted.compareAndSet(true, false)) {
                restorations.incrementAndGet();
                log.info("Redis subscriptions restored ({} rooms)", all.size());
                try {
                    listener.restored();
                } catch (RuntimeException ex) {
                    log.error("RedisLink listener failed in restored()", ex);
                }
            }
        });
    }

    /** Follows the pub/sub connections' state: a drop disrupts, a reconnect after one restores. */
    private final class Watcher implements RedisConnectionStateListener {
        @Override
        public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
            if (connection instanceof StatefulRedisPubSubConnection<?, ?>) {
                disrupt("a pub/sub connection dropped");
                // Retry from now on, backing off to 2 s: a connection that is closed for good (its master
                // left the cluster) never reports 'connected', and its rooms must move to another.
                scheduleRestore(MAX_RETRY_MILLIS);
            }
        }

        @Override
        public void onRedisConnected(RedisChannelHandler<?, ?> connection, SocketAddress address) {
            if (connection instanceof StatefulRedisPubSubConnection<?, ?> && disrupted.get()) {
                // Lettuce activates the connection (handshake, its own resubscribe) right after this
                // event; a short delay also gathers several masters reconnecting into one pass.
                retryMillis = RETRY_MILLIS;
                scheduleRestore(RETRY_MILLIS);
            }
        }
    }

    /** Messages and unsolicited unsubscribes from Redis; on Lettuce's I/O threads. */
    private final class Receiver extends RedisPubSubAdapter<String, byte[]> {
        @Override
        public void smessage(String channel, byte[] message) {
            String room = roomOf(channel);
            if (room == null || !rooms.contains(room)) {
                return;
            }
            if (message.length < 2 || message[0] != ENVELOPE || message.length < 2 + (message[1] & 0xFF)) {
                malformed.increment();
                envelopeLog.warn(new IllegalArgumentException("no envelope on " + channel));
                return;
            }
            int end = 2 + (message[1] & 0xFF);
            if (Arrays.equals(message, 0, end, header, 0, header.length)) {
                return;
            }
            received.increment();
            try {
                listener.message(room, Arrays.copyOfRange(message, end, message.length));
            } catch (RuntimeException e) {
                log.error("RedisLink listener failed on a message of room {}", room, e);
            }
        }

        @Override
        public void sunsubscribed(String channel, long count) {
            // Ours, confirmed: nothing to do, even if the room was subscribed again meanwhile (that
            // SSUBSCRIBE follows on the same connection). Otherwise Redis dropped it: its slot moved.
            String room = roomOf(channel);
            if (room == null) {
                return;
            }
            AtomicInteger[] own = new AtomicInteger[1];
            ownUnsubscribes.computeIfPresent(room, (r, n) -> {
                own[0] = n;
                return n.decrementAndGet() <= 0 ? null : n;
            });
            if (own[0] == null && rooms.contains(room)) {
                disrupt("Redis unsubscribed " + channel);
                scheduleRestore(RETRY_MILLIS);
            }
        }
    }

    private static String roomOf(String channel) {
        if (channel == null || !channel.startsWith(CHANNEL_PREFIX) || !channel.endsWith("}")) {
            return null;
        }
        return channel.substring(CHANNEL_PREFIX.length(), channel.length() - 1);
    }

    /** Closes every connection; held subscriptions end with them. */
    @Override
    public void close() {
        closed = true;
        scheduler.shutdownNow();
        shutdownClient();
    }

    private void shutdownClient() {
        try {
            if (client != null) {
                client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            }
        } catch (RuntimeException e) {
            log.warn("closing the Redis client failed", e);
        }
        resources.shutdown(0, 2, TimeUnit.SECONDS);
        scheduler.shutdownNow();
    }
}
