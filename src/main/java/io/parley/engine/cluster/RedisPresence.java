package io.parley.engine.cluster;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Who is in each room over all nodes, kept in Redis, and the departure of a dead node's members.
 *
 * <p><b>Keys.</b> For room {@code r} (hash tag {@code {r}}, the slot of the room's channel):
 * {@code parley:{r}:members}, a hash of {@code <nodeId>/<name>} to that name's subscriptions on that
 * node, and {@code parley:{r}:count}, their sum. Both change together in one Lua script, so
 * {@link #count} is one GET. The count is of member entries, as the single-node engine's
 * {@code Room.memberCount()} is (a name with two connections in a room counts twice; a lingering
 * entry or a long poller's lease counts until the engine removes it). For node
 * {@code n} (hash tag {@code {n}}): {@code parley:node:{n}}, its heartbeat, set every
 * {@value #HEARTBEAT_MILLIS} ms with a TTL of {@value #TTL_MILLIS} ms; {@code parley:node:{n}:rooms}, the
 * rooms it has members in; {@code parley:node:{n}:swept}, the claim of whoever swept it. And
 * {@code parley:nodes}, every node that registered.
 *
 * <p><b>Dead nodes.</b> Every node runs a sweep every {@value #SWEEP_MILLIS} ms: a registered node whose
 * heartbeat has expired is claimed with {@code SET parley:node:{n}:swept NX} (one node in the cluster
 * wins, the others skip it), and the winner removes that node's fields from each of its rooms and hands
 * the names to {@link Departures#left}, once per room. Exactly once rests on the per-room script, which
 * reads and deletes the fields atomically: a second sweeper of the same room finds nothing to report
 * (the claim only spares the other nodes the work; {@code RedisPresenceTest} passes without it). A killed node's members are therefore gone
 * from the counts, and reported left on exactly one node, within TTL + sweep interval, {@value #TTL_MILLIS} +
 * {@value #SWEEP_MILLIS} ms after its last heartbeat (plus the sweep's own round trips). The engine that
 * gets the report announces {@code left} to the whole cluster (a presence payload on the room's channel).
 * A sweeper that dies mid-sweep leaves its claim to expire ({@value #CLAIM_MILLIS} ms); the next sweeper
 * finishes the job, and may report again the rooms the first had already reported.
 *
 * <p><b>Redis losing state.</b> The heartbeat is {@code SET ... GET}: when it finds no previous heartbeat
 * (first start, Redis restarted or emptied, or this node was paused longer than the TTL and swept), the
 * node registers again and writes its own members' exact counts back, so the counts heal within one
 * heartbeat. A single join or leave that Redis refused (unreachable for a moment, out of memory,
 * timed out) marks that name unsure, and the next heartbeat writes its local count back. Members of
 * nodes that died while Redis was down are never reported left (their keys went with Redis); their
 * counts are gone too.
 *
 * <p><b>Threads and blocking.</b> {@link #join}, {@link #leave} and {@link #count} are called by the
 * engine's sequencer (one thread: the local tally is not shared with other callers) and return at
 * once with a stage; the sequencer must not wait on it, it hands the result on. The heartbeat and the
 * sweep run on this class's own thread, and read the local tally under its lock. {@link Departures} is
 * called on Lettuce's threads: hand off, do not block. Only {@link #close} blocks, up to 2 s, to remove
 * this node's members on a clean shutdown.
 */
public final class RedisPresence implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(RedisPresence.class);

    static final long HEARTBEAT_MILLIS = 1_000;
    static final long TTL_MILLIS = 5_000;
    static final long SWEEP_MILLIS = 1_000;
    static final long CLAIM_MILLIS = 60_000;
    static final String NODES = "parley:nodes";

    /** The members of a dead node, by room: what the engine announces as {@code left}. */
    public interface Departures {
        void left(String deadNode, String room, List<String> names);
    }

    /** Adds ARGV[2] to field ARGV[1]; keeps the count equal to the sum of the fields; returns the count. */
    private static final Script CHANGE = new Script("""
            local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
            local delta = tonumber(ARGV[2])
            if n <= 0 then
              redis.call('HDEL', KEYS[1], ARGV[1])
              if n < 0 then delta = delta - n end
            end
            local c = redis.call('INCRBY', KEYS[2], delta)
            if c <= 0 then redis.call('DEL', KEYS[2]) return 0 end
            return c
            """);

    /** Sets field ARGV[1] to ARGV[2] (0 removes it), moving the count by the difference. */
    private static final Script ASSERT = new Script("""
            local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
            local new = tonumber(ARGV[2])
            if new > 0 then redis.call('HSET', KEYS[1], ARGV[1], new) else redis.call('HDEL', KEYS[1], ARGV[1]) end
            local c = redis.call('INCRBY', KEYS[2], new - old)
            if c <= 0 then redis.call('DEL', KEYS[2]) return 0 end
            return c
            """);

    /** Removes every field starting with ARGV[1]; returns their names, one per subscription. */
    private static final Script SWEEP = new Script("""
            local names = {}
            local removed = 0
            local all = redis.call('HGETALL', KEYS[1])
            local p = ARGV[1]
            for i = 1, #all, 2 do
              local f = all[i]
              if string.sub(f, 1, #p) == p then
                local n = tonumber(all[i + 1])
                redis.call('HDEL', KEYS[1], f)
                removed = removed + n
                for j = 1, n do names[#names + 1] = string.sub(f, #p + 1) end
              end
            end
            if removed > 0 then
              local c = redis.call('DECRBY', KEYS[2], removed)
              if c <= 0 then redis.call('DEL', KEYS[2]) end
            end
            return names
            """);

    /** A Lua script sent by its SHA-1 (EVALSHA), and in full only when Redis does not have it yet. */
    private record Script(String text, String sha) {
        Script(String text) {
            this(text, sha1(text));
        }

        private static String sha1(String text) {
            try {
                return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("every JDK has SHA-1", e);
            }
        }
    }

    private final String nodeId;
    private final RedisClusterAsyncCommands<String, String> redis;
    private final Departures departures;
    private final ScheduledExecutorService scheduler;
    /** This node's members: room -> name -> subscriptions. Guarded by itself. */
    private final Map<String, Map<String, Integer>> local = new HashMap<>();
    /** Names whose last change may not have reached Redis: room -> names. */
    private final Map<String, Set<String>> unsure = new ConcurrentHashMap<>();
    private final AtomicBoolean sweeping = new AtomicBoolean();
    private final AtomicLong registrations = new AtomicLong();
    private final LogThrottle heartbeatLog = new LogThrottle(log, "the presence heartbeat");
    private final LogThrottle sweepLog = new LogThrottle(log, "sweeping dead nodes");
    private final LogThrottle changeLog = new LogThrottle(log, "recording presence");
    private volatile boolean closed;
    private volatile boolean registered;

    /** Starts the heartbeat and the sweep on the link's Redis; the link outlives this. */
    public RedisPresence(RedisLink link, Departures departures) {
        this.nodeId = link.nodeId();
        this.redis = link.commands();
        this.departures = departures;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "parley-redis-presence");
            t.setDaemon(true);
            return t;
        });
        scheduler.scheduleWithFixedDelay(this::heartbeat, 0, HEARTBEAT_MILLIS, TimeUnit.MILLISECONDS);
        scheduler.scheduleWithFixedDelay(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    static String members(String room) {
        return "parley:{" + room + "}:members";
    }

    static String countKey(String room) {
        return "parley:{" + room + "}:count";
    }

    static String heartbeatKey(String node) {
        return "parley:node:{" + node + "}";
    }

    private static String roomsKey(String node) {
        return "parley:node:{" + node + "}:rooms";
    }

    private static String sweptKey(String node) {
        return "parley:node:{" + node + "}:swept";
    }

    private String field(String name) {
        return nodeId + "/" + name;
    }

    /** One more subscription of {@code name} in {@code room} on this node; the room's count after it. */
    public CompletionStage<Long> join(String room, String name) {
        RedisLink.channel(room);
        boolean firstInRoom;
        synchronized (local) {
            Map<String, Integer> names = local.computeIfAbsent(room, r -> new HashMap<>());
            firstInRoom = names.isEmpty();
            names.merge(name, 1, Integer::sum);
        }
        // The node's room list is written before the member, so that a sweeper that finds the member
        // also finds the room.
        CompletionStage<?> before = CompletableFuture.completedFuture(null);
        if (firstInRoom) {
            try {
                before = redis.sadd(roomsKey(nodeId), room);
            } catch (RuntimeException e) {
                before = CompletableFuture.failedFuture(e);
            }
        }
        return settled(room, name, before.thenCompose(v -> change(room, name, 1)));
    }

    /** One subscription of {@code name} in {@code room} fewer on this node; the room's count after it. */
    public CompletionStage<Long> leave(String room, String name) {
        RedisLink.channel(room);
        boolean lastInRoom = false;
        synchronized (local) {
            Map<String, Integer> names = local.get(room);
            if (names != null) {
                names.computeIfPresent(name, (n, c) -> c > 1 ? c - 1 : null);
                if (names.isEmpty()) {
                    local.remove(room);
                    lastInRoom = true;
                }
            }
        }
        CompletionStage<Long> after = change(room, name, -1);
        if (lastInRoom) {
            after = after.thenCompose(c -> redis.srem(roomsKey(nodeId), room).thenApply(n -> c));
        }
        return settled(room, name, after);
    }

    /** The room's subscriptions over all live nodes (and dead ones not yet swept). */
    public CompletionStage<Long> count(String room) {
        RedisLink.channel(room);
        try {
            return redis.get(countKey(room)).thenApply(v -> v == null ? 0L : Long.parseLong(v));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private CompletionStage<Long> change(String room, String name, int delta) {
        return run(CHANGE, ScriptOutputType.INTEGER, new String[] {members(room), countKey(room)}, field(name), String.valueOf(delta));
    }

    /**
     * Runs a script by its SHA-1, sending its text only when Redis answers NOSCRIPT (first use, or a
     * Redis restarted or emptied with SCRIPT FLUSH): a join costs a few dozen bytes, not the script.
     */
    private <T> CompletableFuture<T> run(Script script, ScriptOutputType type, String[] keys, String... args) {
        CompletableFuture<T> result = new CompletableFuture<>();
        try {
            redis.<T>evalsha(script.sha(), type, keys, args).whenComplete((v, e) -> {
                if (e == null) {
                    result.complete(v);
                } else if (e instanceof RedisNoScriptException || e.getCause() instanceof RedisNoScriptException) {
                    try {
                        redis.<T>eval(script.text(), type, keys, args).whenComplete((v2, e2) -> {
                            if (e2 == null) {
                                result.complete(v2);
                            } else {
                                result.completeExceptionally(e2);
                            }
                        });
                    } catch (RuntimeException thrown) {
                        result.completeExceptionally(thrown);
                    }
                } else {
                    result.completeExceptionally(e);
                }
            });
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
        }
        return result;
    }

    /**
     * A change that failed (Redis unreachable, full, slow) leaves Redis unsure of that name: the next
     * heartbeat writes the name's local count back, so a blip costs a count wrong for a second, not
     * for good.
     */
    private <T> CompletionStage<T> settled(String room, String name, CompletionStage<T> stage) {
        return stage.whenComplete((v, e) -> {
            if (e != null) {
                changeLog.warn(e);
                unsure.computeIfAbsent(room, r -> ConcurrentHashMap.newKeySet()).add(name);
            }
        });
    }

    /** Writes back the local count of every name whose change failed; those that fail again stay unsure. */
    private void settleUnsure() {
        for (String room : List.copyOf(unsure.keySet())) {
            Set<String> names = unsure.remove(room);
            if (names == null) {
                continue;
            }
            Map<String, Integer> counts = new HashMap<>();
            boolean present;
            synchronized (local) {
                Map<String, Integer> here = local.getOrDefault(room, Map.of());
                names.forEach(n -> counts.put(n, here.getOrDefault(n, 0)));
                present = !here.isEmpty();
            }
            CompletableFuture<?> roomList;
            try {
                roomList = (present ? redis.sadd(roomsKey(nodeId), room) : redis.srem(roomsKey(nodeId), room)).toCompletableFuture();
            } catch (RuntimeException e) {
                roomList = CompletableFuture.failedFuture(e);
            }
            CompletableFuture<?> listed = roomList;
            counts.forEach((name, n) -> settled(room, name, listed.thenCompose(v -> assertCount(room, name, n))));
        }
    }

    private CompletableFuture<Long> assertCount(String room, String name, int n) {
        return run(ASSERT, ScriptOutputType.INTEGER, new String[] {members(room), countKey(room)}, field(name), String.valueOf(n));
    }

    /** How many times this node (re)registered: 1 after start, +1 per Redis that lost our heartbeat. */
    long registrations() {
        return registrations.get();
    }

    private void heartbeat() {
        if (closed) {
            return;
        }
        try {
            redis.setGet(heartbeatKey(nodeId), nodeId, SetArgs.Builder.px(TTL_MILLIS)).whenComplete((previous, e) -> {
                if (e != null) {
                    heartbeatLog.warn(e);
                } else if ((previous == null || !registered) && !closed) {
                    register();
                    settleUnsure();
                } else if (!unsure.isEmpty()) {
                    settleUnsure();
                }
            });
        } catch (RuntimeException e) {
            heartbeatLog.warn(e);
        }
    }

    /** Writes this node's whole state: after a start, or when Redis no longer had our heartbeat. */
    private void register() {
        registrations.incrementAndGet();
        Map<String, Map<String, Integer>> snapshot = new HashMap<>();
        synchronized (local) {
            local.forEach((room, names) -> snapshot.put(room, new HashMap<>(names)));
        }
        redis.del(sweptKey(nodeId));
        // Until the registry has this node, a death would go unnoticed: the heartbeat tries again.
        redis.sadd(NODES, nodeId).whenComplete((n, e) -> registered = e == null);
        snapshot.forEach((room, names) -> {
            CompletableFuture<Long> roomList = redis.sadd(roomsKey(nodeId), room).toCompletableFuture();
            names.forEach((name, n) -> settled(room, name, roomList.thenCompose(v -> assertCount(room, name, n))));
        });
        if (registrations.get() > 1) {
            log.warn("Redis had no heartbeat of node {}: registered its members in {} rooms again", nodeId, snapshot.size());
        }
    }

    /** Finds registered nodes without a heartbeat, claims each, removes its members, reports them. */
    private void sweep() {
        if (closed || !sweeping.compareAndSet(false, true)) {
            return;
        }
        CompletableFuture<Void> done;
        try {
            done = redis.smembers(NODES).toCompletableFuture().thenCompose(nodes -> {
                List<CompletableFuture<Void>> each = new ArrayList<>();
                for (String node : nodes) {
                    if (!node.equals(nodeId)) {
                        each.add(sweepIfDead(node));
                    }
                }
                return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new));
            });
        } catch (RuntimeException e) {
            done = CompletableFuture.failedFuture(e);
        }
        done.whenComplete((v, e) -> {
            sweeping.set(false);
            if (e != null) {
                sweepLog.warn(e);
            }
        });
    }

    private CompletableFuture<Void> sweepIfDead(String node) {
        return redis.exists(heartbeatKey(node)).toCompletableFuture().thenCompose(alive -> {
            if (alive > 0) {
                return CompletableFuture.completedFuture(null);
            }
            return redis.set(sweptKey(node), nodeId, SetArgs.Builder.nx().px(CLAIM_MILLIS)).toCompletableFuture()
                    .thenCompose(claimed -> "OK".equals(claimed) ? sweepClaimed(node) : CompletableFuture.completedFuture(null));
        });
    }

    private CompletableFuture<Void> sweepClaimed(String dead) {
        return redis.smembers(roomsKey(dead)).toCompletableFuture().thenCompose(rooms -> {
            List<CompletableFuture<Void>> each = new ArrayList<>();
            for (String room : rooms) {
                if (!RoomBatchCodec.ROOM.matcher(room).matches()) {
                    continue;
                }
                each.add(this.<List<Object>>run(SWEEP, ScriptOutputType.MULTI,
                                new String[] {members(room), countKey(room)}, dead + "/")
                        .thenAccept(names -> {
                            if (!names.isEmpty()) {
                                try {
                                    departures.left(dead, room, names.stream().map(String::valueOf).toList());
                                } catch (RuntimeException e) {
                                    log.error("presence departures listener failed", e);
                                }
                            }
                        }));
            }
            return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new));
        }).thenCompose(v -> redis.del(roomsKey(dead)).toCompletableFuture())
                .thenCompose(v -> redis.srem(NODES, dead).toCompletableFuture())
                .thenRun(() -> log.info("node {} stopped its heartbeat: its members were removed", dead));
    }

    /**
     * Stops the heartbeat and the sweep without removing anything, as a killed process would leave
     * Redis. For tests of the sweep.
     */
    void abandon() {
        closed = true;
        scheduler.shutdownNow();
    }

    /** Clean shutdown: removes this node's members and heartbeat (waits up to 2 s), stops its threads. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        scheduler.shutdownNow();
        Map<String, Map<String, Integer>> snapshot;
        synchronized (local) {
            snapshot = new HashMap<>(local);
            local.clear();
        }
        List<CompletableFuture<?>> all = new ArrayList<>();
        snapshot.forEach((room, names) -> names.keySet().forEach(name -> all.add(assertCount(room, name, 0))));
        all.add(redis.del(roomsKey(nodeId), heartbeatKey(nodeId)).toCompletableFuture());
        all.add(redis.srem(NODES, nodeId).toCompletableFuture());
        try {
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(2, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("removing node {}'s presence from Redis failed; the other nodes sweep it after {} ms", nodeId, TTL_MILLIS);
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
