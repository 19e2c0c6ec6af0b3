package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * A room as the sequencer keeps it: its first and last seq, its most recent messages, its members, and
 * the long polls waiting for its next message. Sequencer thread only.
 *
 * <p>The members are also kept grouped by executor, as arrays rebuilt only when membership changes, so
 * that a fan-out posts one task per event loop and that task walks a fixed array: the membership as it
 * was at that point in the room's order.
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
    private final Set<Subscription> members = new LinkedHashSet<>();
    private Map<Executor, Subscription[]> byExecutor = Map.of();
    private boolean membersChanged;
    private int remoteMembers;

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
        membersChanged |= members.add(s);
    }

    boolean remove(Subscription s) {
        boolean removed = members.remove(s);
        membersChanged |= removed;
        return removed;
    }

    /** Records a message that is on disk. Messages arrive here in seq order. */
    void append(StoredMessage m) {
        lastSeq = m.seq();
        if (recent.size() == capacity) {
            recent.removeFirst();
        }
        recent.addLast(m);
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
            for (Subscription s : members) {
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
