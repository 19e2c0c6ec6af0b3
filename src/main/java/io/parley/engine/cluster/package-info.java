/**
 * Several Parley nodes sharing rooms over Redis: "PostgreSQL orders, Redis rings the bell" (issue 9).
 *
 * <p><b>Who calls what.</b> The engine owns one {@link io.parley.engine.cluster.RedisLink} and one
 * {@link io.parley.engine.cluster.RedisPresence} per node, both made at start with a random node id.
 * <ul>
 *   <li>Its sequencer commits a batch in PostgreSQL (the room row's lock gives gapless seqs across
 *       nodes), then calls {@code RedisLink.publish(room, RoomBatchCodec.encodeBatch(nodeId, messages))}
 *       once per room of the batch. Publishing is fire and forget.</li>
 *   <li>It calls {@code subscribe(room)} when a room gets its first local member or waiting poll, and
 *       {@code unsubscribe(room)} when it has none: a node hears only the rooms it serves.</li>
 *   <li>{@code Listener.message(room, payload)} brings another node's payload; the engine decodes it
 *       ({@code RoomBatchCodec.decode(payload, room)}, which throws on anything malformed or naming
 *       another room),
 *       orders by seq, holds back early ones, fills gaps from PostgreSQL and fans out locally.
 *       {@code Listener.restored()} says subscriptions were disrupted and are back: catch every held
 *       room up from PostgreSQL.</li>
 *   <li>For presence, the sequencer calls {@code RedisPresence.join/leave(room, name)} per local
 *       subscription and reports the returned count; it publishes a presence payload
 *       ({@code encodePresence}) so that the other nodes announce joined/left to their members.
 *       {@code Departures.left(deadNode, room, names)} reports a dead node's members on exactly one
 *       node, which publishes them as a presence payload for everyone.</li>
 * </ul>
 *
 * <p><b>Threads.</b> Nothing here blocks its caller after start, except {@code close()}. Results are
 * {@link java.util.concurrent.CompletionStage}s completed on Lettuce's I/O threads; listener callbacks run
 * on those threads or on the link's and presence's own scheduler threads. Callbacks must only hand off
 * (enqueue a command for the sequencer).
 *
 * <p><b>Bounds.</b> While Redis is unreachable, commands fail at once (nothing queues), at most
 * 20,000 commands wait per connection while it is slow, and each times out after 5 s. Lettuce
 * reconnects every 0.1 s, doubling up to 2 s; subscriptions are back and {@code restored()} is called
 * 0.2 s after the reconnect, so within about 2.5 s of Redis answering again (0.47 s measured for a
 * restarted standalone Redis, about 0.4 s for a restarted cluster master, on this machine).
 *
 * <p>A killed node's members leave the counts, and are reported left once, within TTL + sweep interval
 * = 6 s of its last heartbeat, plus the sweep's own round trips (4.9 to 6.2 s measured from the kill,
 * standalone and on three masters, on a 2-core machine busy with other builds).
 *
 * <p>Measured on this machine (2 cores, load average about 9 from other builds, standalone Redis, no
 * leak detection): publish to delivery on another link p50 0.25 to 0.45 ms, p99 3 to 10 ms at 1,000
 * payloads a second; a burst of 19,500 payloads of 512 bytes from one link arrives in 1.0 s (19,000 a
 * second). Under the tests' paranoid Netty leak detection the same burst is several times slower.
 *
 * <p><b>Closing.</b> Close the presence before the link: {@code RedisPresence.close()} removes this
 * node's members through the link's connection.
 *
 * <p><b>Keys and channels.</b> Every key and channel of room {@code r} carries the hash tag {@code {r}}:
 * in a Redis Cluster a room lives on one master, and rooms spread over the masters. The channel is
 * {@code parley:{r}} (sharded pub/sub, Redis 7); presence keys are described in {@code RedisPresence}.
 */
package io.parley.engine.cluster;
