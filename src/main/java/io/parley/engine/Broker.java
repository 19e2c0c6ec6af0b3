package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.LongConsumer;

/**
 * The engine as the chat layer sees it: joins, leaves, sends, polls and history reads of rooms, on
 * one node or on several sharing rooms. Implementations: {@link LocalBroker}, one process with its
 * history in one store, and {@link RedisBroker}, a node of several sharing rooms through PostgreSQL and
 * Redis; both on {@link SequencedBroker}.
 *
 * <p><b>The ordering contract.</b> Every implementation keeps these, and the engine's contract tests
 * ({@code BrokerContract}) check each:
 * <ol>
 *   <li><b>One order per room.</b> Each stored message gets the room's next seq, from 1, without gaps.
 *       A subscriber is handed a room's messages in seq order, none twice, none skipped, from its join
 *       until it leaves.</li>
 *   <li><b>Stored before told.</b> A {@link PublishListener#stored} and every delivery of a message
 *       come after the message is durable in the store; a message whose store failed is delivered to
 *       nobody and its sender hears {@link Failure#STORE_UNAVAILABLE}.</li>
 *   <li><b>Idempotent sends.</b> A publish whose (room, user, id) was stored before is answered with
 *       the original message and stores nothing.</li>
 *   <li><b>History before live.</b> A join's {@link Replay} covers the room up to a point in its order,
 *       and every live frame after it continues right after that point: with {@code since}, the
 *       subscriber gets exactly the messages after {@code since} (or learns that retention deleted
 *       some: {@link Replay#recovered}).</li>
 *   <li><b>Never ahead of live.</b> A {@link #history} read may return messages the subscriber has not
 *       been handed yet; the caller trims it to {@link Subscription#handedUpTo()}.</li>
 *   <li><b>Polls.</b> A poll is answered with the messages after its {@code since}, at once if there
 *       are any, else (waiting) with the next ones stored.</li>
 *   <li><b>Presence.</b> Joins and leaves reach the room's members as presence frames, with the room's
 *       member count. In a room of more members than the broker's names threshold, they are not named:
 *       a count ({@link BroadcastEncoder#presenceCount}) reaches the members instead, at most once a
 *       second, and within about a second of the last change.</li>
 *   <li><b>Leases.</b> With a presence grace (not 0), a subscription whose connection closed
 *       ({@link #disconnect}) stays a member for the grace before its {@code left}; a subscribe by the
 *       same user in that time takes its entry over with no presence change and the count unchanged. A
 *       named poll makes its user a member of the room (a {@code joined}) unless already one, renewed by
 *       each poll and lingering the grace after the last poll ends. {@link #unsubscribe} leaves at once.
 *       Across nodes a lease is the node's own: a user who comes back through another node is a new
 *       member there, and the old entry leaves when its grace ends (counts converge, nothing lingers
 *       past the grace, a dead node's entries go with its other members).</li>
 *   <li><b>Member listing.</b> {@link #members} pages through a room's members in join order; a cursor
 *       stays valid while others join and leave, and every member present from the first page to the
 *       last is listed exactly once.</li>
 * </ol>
 *
 * <p><b>Threads.</b> Every method may be called from any event loop and never blocks. Listeners and
 * subscribers are called on their own executors only.
 */
public interface Broker extends AutoCloseable {

    /** Members one {@link #members} page lists at most. */
    int MAX_MEMBERS_PAGE = 1_000;

    /**
     * Joins {@code subscriber} to {@code room}. The listener hears the outcome on the subscriber's
     * executor; live frames follow only after it.
     *
     * @param user  who: a lingering entry of the same user id in the room is taken over silently
     * @param name  what presence calls the member
     * @param since -1 for the newest messages, else the last seq the client saw
     * @param asker whose turn a read from disk takes, if the join needs one: the connection's
     * @throws Refused at once, when the engine is full or stopping (the listener is then not called)
     */
    Subscription subscribe(String room, Subscriber subscriber, String user, String name, long since,
                           ReadQueue.Asker asker, JoinListener listener);

    /** Leaves the room at once: no frame of it reaches the subscriber after this call. Subscriber's executor. */
    void unsubscribe(Subscription subscription);

    /**
     * The subscriber's connection closed: as {@link #unsubscribe}, except that its entry lingers in the
     * room's presence for the grace, so that a quick reconnect of the same user changes nothing.
     */
    void disconnect(Subscription subscription);

    /**
     * Stores and broadcasts a message, unless {@code user} already sent {@code id} to this room: then
     * the listener hears of the original. The listener hears the outcome on {@code replyOn}.
     *
     * @throws Refused at once, when the engine is full or stopping (the listener is then not called)
     */
    void publish(Executor replyOn, String room, String id, String user, String from, String text,
                 PublishListener listener);

    /**
     * Messages of {@code room} after {@code since}, at most {@code limit}: at once if there are any,
     * else as soon as one is stored, if {@code wait} is true. The listener hears on {@code replyOn}. A
     * waiting poll ends only by an answer or by {@link Poll#cancel()}: its caller keeps the clock.
     *
     * @param user the poller's user id, a member of the room by its lease (see the contract); null for
     *             an anonymous poll, which is nobody's presence
     * @param name what presence calls a named poller
     * @throws Refused at once, when the engine is full or stopping (the listener is then not called)
     */
    Poll poll(ReadQueue.Asker asker, String room, String user, String name, long since, int limit, boolean wait,
              Executor replyOn, PollListener listener);

    /**
     * The rooms that exist, most recently active first, at most {@code limit}: those with stored
     * messages (read from the store in {@code asker}'s turn) merged with those that have members, each
     * with its member count as this node knows it (on several nodes, the cluster's where known). A room
     * without messages has no last time and comes after those with one. The future completes off the
     * caller's thread; it fails with the store's exception, or {@link Refused}.
     *
     * @throws Refused at once, when the engine is stopping, or overloaded
     */
    CompletableFuture<List<RoomListing>> rooms(ReadQueue.Asker asker, int limit);

    /**
     * Deletes messages of {@code room} as moderator {@code by}: those with {@code after < seq <= upTo}
     * that are stored and not deleted yet become tombstones (the text gone from the store), and the
     * room's members on every node are told by a tombstone broadcast
     * ({@link BroadcastEncoder#tombstones}), in the room's order: never before the messages it deletes.
     * Joins, polls and history after it return the tombstones. The listener hears on {@code replyOn}.
     *
     * @throws Refused at once, when the engine is full or stopping (the listener is then not called)
     */
    void delete(Executor replyOn, String room, long after, long upTo, String by, DeleteListener listener);

    /**
     * Tells the other nodes sharing rooms that something about {@code room} changed in the database
     * that they keep a copy of ({@code topic} says what, e.g. its bans), so that they read it again now
     * rather than at their next periodic reload. Returns at once; a notice may be lost, which is what
     * the reload is for. On one node there is nobody to tell.
     */
    void announce(String room, String topic);

    /** Who hears the other nodes' {@link #announce}ments; called on a thread of the broker's, must not block. */
    void onAnnouncement(Announcements listener);

    /** Hears what another node {@link #announce}d. */
    interface Announcements {
        void heard(String room, String topic);
    }

    /**
     * A new asker for disk reads: one per connection, closed with it, so that its queued reads are
     * dropped and its turns never hold anyone else's reads back.
     */
    ReadQueue.Asker asker();

    /**
     * Reads stored history, in {@code asker}'s turn. {@code before} and {@code since} are -1 when
     * absent. The future fails with the store's {@code StoreException} if the store does; it never
     * completes if the asker closes before its turn.
     *
     * @throws Refused at once, when the engine is stopping, or overloaded
     */
    CompletableFuture<List<StoredMessage>> history(ReadQueue.Asker asker, String room, long before, long since,
                                                   int limit);

    /**
     * One page of {@code room}'s members: up to {@code limit} who joined after cursor {@code after} (0
     * for the first page), answered on {@code replyOn}.
     *
     * @throws Refused at once, when the engine is full or stopping (the listener is then not called)
     */
    void members(String room, long after, int limit, Executor replyOn, MembersListener listener);

    /** Messages stored through this node since it started; for metrics. */
    long storedCount();

    /** Messages handed to this node's subscribers and polls since it started; for metrics. */
    long deliveryCount();

    /**
     * Has {@code nanos} told, on the sequencer thread, how long each batch of sends took to be written
     * to the store: the commit every message waits for before anyone sees it. For metrics; it must be
     * cheap and must not block. Set it before traffic starts; the last one set wins.
     */
    void onCommit(LongConsumer nanos);

    /** Stops taking requests, finishes (stores and answers) those already taken, then stops. */
    @Override
    void close();
}
