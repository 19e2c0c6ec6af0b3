package io.parley.engine.cluster;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * "Room {@code r}'s record changed": the one notice the nodes of a cluster tell each other about rooms'
 * settings and roles, so that a change made on one node is in force on the others within a round trip
 * to Redis and one database read. Plain PUBLISH / SUBSCRIBE on one channel, {@value #CHANNEL} (not a
 * room's {@code parley:{r}} channel, so nothing of the chat's traffic mixes with it); in a Redis Cluster
 * a plain publish reaches every node's subscribers.
 *
 * <p>A notice carries only the room's name: the receiver reads the room from the database, which holds
 * the truth. A lost notice (Redis down, a connection dropping) is caught up by each node's periodic
 * reload of every room ({@code RoomAccess.RELOAD}). A node hears its own notices too; reading its own
 * change again is harmless.
 *
 * <p>Threads: {@link #connect} blocks (at start) and fails if Redis cannot be reached. {@link #publish}
 * never blocks (while Redis is down it is refused at once, and dropped). The listener runs on Lettuce's
 * I/O thread and must hand off at once.
 */
public final class RoomNotices implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RoomNotices.class);
    static final String CHANNEL = "parley-rooms";
    /** A notice is a room name; anything else on the channel is not ours and is ignored. */
    private static final Pattern ROOM = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** Notices waiting while connected; a change is rare, so this is only a bound. */
    private static final int QUEUE_LIMIT = 1000;

    private final AbstractRedisClient client;
    private final StatefulRedisPubSubConnection<String, String> pubsub;
    private final RedisClusterAsyncCommands<String, String> commands;
    private final LogThrottle failures = new LogThrottle(log, "publishing a room notice");

    private RoomNotices(AbstractRedisClient client, StatefulRedisPubSubConnection<String, String> pubsub,
                        RedisClusterAsyncCommands<String, String> commands) {
        this.client = client;
        this.pubsub = pubsub;
        this.commands = commands;
    }

    /**
     * Connects, subscribes and returns the notices; {@code changed} hears each room named by any node.
     * Blocks until subscribed; throws if Redis cannot be reached.
     */
    public static RoomNotices connect(RedisAddress address, Consumer<String> changed) {
        AbstractRedisClient client = null;
        try {
            StatefulRedisPubSubConnection<String, String> pubsub;
            RedisClusterAsyncCommands<String, String> commands;
            if (address.cluster()) {
                RedisClusterClient c = RedisClusterClient.create(address.uris());
                client = c;
                ClusterClientOptions.Builder options = ClusterClientOptions.builder();
                bounded(options);
                c.setOptions(options.build());
                pubsub = c.connectPubSub(StringCodec.UTF8);
                commands = c.connect(StringCodec.UTF8).async();
            } else {
                RedisClient c = RedisClient.create(address.uris().getFirst());
                client = c;
                ClientOptions.Builder options = ClientOptions.builder();
                bounded(options);
                c.setOptions(options.build());
                pubsub = c.connectPubSub(StringCodec.UTF8);
                commands = c.connect(StringCodec.UTF8).async();
            }
            pubsub.addListener(new RedisPubSubAdapter<>() {
                @Override
                public void message(String channel, String room) {
                    if (CHANNEL.equals(channel) && room != null && ROOM.matcher(room).matches()) {
                        changed.accept(room);
                    }
                }
            });
            // Lettuce subscribes again by itself after a reconnect.
            pubsub.sync().subscribe(CHANNEL);
            return new RoomNotices(client, pubsub, commands);
        } catch (RuntimeException e) {
            if (client != null) {
                client.shutdown();
            }
            throw e;
        }
    }

    /**
     * Never blocking, bounded: commands are refused at once while Redis is down, at most
     * {@value #QUEUE_LIMIT} wait, each times out. (A cluster's builder is a plain one too.)
     */
    private static void bounded(ClientOptions.Builder options) {
        options.disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS);
        options.requestQueueSize(QUEUE_LIMIT);
        options.timeoutOptions(TimeoutOptions.enabled(RedisLink.COMMAND_TIMEOUT));
        options.socketOptions(SocketOptions.builder().connectTimeout(RedisAddress.CONNECT_TIMEOUT).keepAlive(true).build());
    }

    /** Tells every node that {@code room}'s record changed. Never blocks, never throws. */
    public void publish(String room) {
        try {
            commands.publish(CHANNEL, room).whenComplete((receivers, e) -> {
                if (e != null) {
                    failures.warn(e);
                }
            });
        } catch (RuntimeException e) {
            failures.warn(e);
        }
    }

    @Override
    public void close() {
        try {
            pubsub.close();
        } finally {
            client.shutdown();
        }
    }
}
