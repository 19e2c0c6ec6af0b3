package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executor;

/**
 * A room as the sequencer keeps it: its first and last seq, its most recent messages, its members, and
 * the long polls waiting for its next message. Sequencer thread only.
 *
 * <p>The members are also kept grouped by executor, as arrays rebuilt only when membership changes, so
 * that a fan-out posts one task per event loop and that task walks a fixed array: the membership as it
 * was at that point in the room's order.
 *
 * <p>Each member gets a number when it joins, from 1, never reused in the room's life in memory: the
 * members are kept in that order, which is what a paged {@link Broker#members} listing walks. A cursor
 * is the last number a page showed, so members who join or leave between pages never make the next
 * page skip or repeat anyone who stayed.
 */
final class Room {

    final String name;
    private long lastSeq;
    private long firstSeq;
    /** When a command last named this room; an empty room idle for long is dropped from memory. */
    private long lastUsedNanos;
    private final List<Waiter> waiters = new ArrayList<>();
    private final ArrayDeque<StoredMessage> recent;
    private final int capacity;
    /** Join number -> member. A tree, so a page starts at its cursor in O(log n), not by walking to it. */
    private final TreeMap<Long, Subscription> members = new TreeMap<>();
    private long lastMemberNumber;
    private Map<Executor, Subscription[]> byExecutor = Map.of();
    private boolean membersChanged;
    private int remoteMembers;
    /** Presence of a big room: whether a count is owed, and when the last one went out (nanoTime). */
    private boolean countOwed;
    private long lastCountNanos;
    private boolean counted;

    Room(String name, long lastSeq, long firstSeq, List<StoredMessage> recent, int capacity) {
        this.name = name;
        this.lastSeq = lastSeq;
        this.firstSeq = firstSeq;
        this.capacity = capacity;
        this.recent = new ArrayDeque<>(recent);
    }

    long lastSeq() {
        return lastSeq;
    }

    long firstSeq() {
        return firstSeq;
    }

    /** Messages up to {@code upTo} were deleted. */
    void prunedUpTo(long upTo) {
        firstSeq = Math.max(firstSeq, upTo + 1);
    }

    void used(long nanos) {
        lastUsedNanos = nanos;
    }

    /** No members, no waiting polls, and untouched since {@code cutoffNanos}: memory can forget it. */
    boolean idleSince(long cutoffNanos) {
        return members.isEmpty() && waiters.isEmpty() && lastUsedNanos - cutoffNanos < 0;
    }

    List<Waiter> waiters() {
        return waiters;
    }

    /** Members on this node. */
    int memberCount() {
        return members.size();
    }

    /** Members on other nodes, as last heard (0 on a single node). */
    void remoteMembers(int count) {
        remoteMembers = Math.max(0, count);
    }

    int remoteMembers() {
        return remoteMembers;
    }

    /** Members on every node: what presence reports. */
    int presenceCount() {
        return members.size() + remoteMembers;
    }

    void add(Subscription s) {
        s.memberNumber = ++lastMemberNumber;
        members.put(s.memberNumber, s);
        membersChanged = true;
    }

    boolean remove(Subscription s) {
        boolean removed = members.remove(s.memberNumber, s);
        membersChanged |= removed;
        return removed;
    }

    /** Up to {@code limit} members who joined after member number {@code after}, in join order. */
    MembersPage page(long after, int limit) {
        List<String> names = new ArrayList<>(Math.min(limit, members.size()));
        long last = after;
        for (Subscription s : members.tailMap(after, false).values()) {
            if (names.size() == limit) {
                return new MembersPage(members.size(), names, last);
            }
            names.add(s.name);
            last = s.memberNumber;
        }
        return new MembersPage(members.size(), names, -1);
    }

    /** A big room's membership changed: a count is owed to its members. */
    void owesCount() {
        countOwed = true;
    }

    /** Whether a count is owed and the last went out at least {@code intervalNanos} before {@code now}. */
    boolean countDue(long now, long intervalNanos) {
        return countOwed && (!counted || now - lastCountNanos >= intervalNanos);
    }

    boolean owedCount() {
        return countOwed;
    }

    void countSent(long now) {
        countOwed = false;
        counted = true;
        lastCountNanos = now;
    }

    /** The room is small again and names its changes: nothing is owed. */
    void countCancelled() {
        countOwed = false;
    }

    /** Records a message that is on disk. Messages arrive here in seq order. */
    void append(StoredMessage m) {
        lastSeq = m.seq();
        if (recent.size() == capacity) {
            recent.removeFirst();
        }
        recent.addLast(m);
    }

    /** Replaces the messages in memory that {@code t} deleted by their tombstones. */
    void tombstone(Tombstones t) {
        if (recent.isEmpty() || recent.getLast().seq() <= t.after() || recent.getFirst().seq() > t.upTo()) {
            return;
        }
        List<StoredMessage> kept = new ArrayList<>(recent.size());
        for (StoredMessage m : recent) {
            kept.add(t.covers(m.seq()) && !m.deleted() ? m.tombstone(t.by(), t.at()) : m);
        }
        recent.clear();
        recent.addAll(kept);
    }

    /** The newest {@code n} messages, oldest first. */
    List<StoredMessage> newest(int n) {
        int skip = Math.max(0, recent.size() - n);
        List<StoredMessage> out = new ArrayList<>(recent.size() - skip);
        for (StoredMessage m : recent) {
            if (skip-- <= 0) {
                out.add(m);
            }
        }
        return out;
    }

    /** Whether every stored message after {@code since} is still in memory. */
    boolean inMemoryAfter(long since) {
        return since >= lastSeq - recent.size() || recent.size() == lastSeq - firstSeq + 1;
    }

    /** Messages after {@code since}, oldest first; only valid when {@link #inMemoryAfter} holds. */
    List<StoredMessage> after(long since) {
        List<StoredMessage> out = new ArrayList<>();
        for (StoredMessage m : recent) {
            if (m.seq() > since) {
                out.add(m);
            }
        }
        return out;
    }

    Map<Executor, Subscription[]> membersByExecutor() {
        if (membersChanged) {
            Map<Executor, List<Subscription>> groups = new HashMap<>();
            for (Subscription s : members.values()) {
                groups.computeIfAbsent(s.subscriber.executor(), e -> new ArrayList<>()).add(s);
            }
            Map<Executor, Subscription[]> arrays = new HashMap<>();
            groups.forEach((e, list) -> arrays.put(e, list.toArray(Subscription[]::new)));
            byExecutor = arrays;
            membersChanged = false;
        }
        return byExecutor;
    }
}
