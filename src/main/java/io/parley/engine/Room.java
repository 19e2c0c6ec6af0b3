package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
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
 *
 * <p><b>Leases.</b> A member entry is either a live {@link Subscription} or a lease: the entry of a
 * connection that closed, lingering for the presence grace, or of a named long poller, renewed by each
 * poll. Both count and are listed like a live member; only live ones are handed frames. A subscription
 * of the same user takes a lease over in place (same number, no presence change), which is how a
 * reconnect, or a switch from long polling to WebSocket, does not flap joined/left.
 *
 * <p>Leases are found for expiry in the order they expire ({@link #expiries}), so a turn looks only at
 * those due: when 20,000 members left at once, every turn in which one of their leases was due walked
 * all the others too.
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
    private final TreeMap<Long, Member> members = new TreeMap<>();
    /** User id -> that user's leases here, oldest first: what a reconnect or a poll finds. */
    private final Map<String, ArrayDeque<Member>> leases = new HashMap<>();
    /** User id -> that user's live subscriptions here: a poll of a user already present changes nothing. */
    private final Map<String, Integer> live = new HashMap<>();
    private int leaseCount;
    /**
     * When each lease expires, earliest first. A lease whose expiry moved, or that was taken over or
     * is held by a waiting poll, leaves its old entry behind; such an entry is dropped when it comes up
     * (see {@link Expiry#current}). Each lease, extension and ended poll adds one, and each comes up
     * within the grace or a poll's lease time, so they are bounded by what those add in that time.
     */
    private final PriorityQueue<Expiry> expiries = new PriorityQueue<>();
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

    /** No members (nor leases), no waiting polls, and untouched since {@code cutoffNanos}: memory can forget it. */
    boolean idleSince(long cutoffNanos) {
        return members.isEmpty() && waiters.isEmpty() && lastUsedNanos - cutoffNanos < 0;
    }

    List<Waiter> waiters() {
        return waiters;
    }

    /** Members on this node, leases included. */
    int memberCount() {
        return members.size();
    }

    /** Members on this node that are handed frames: the live ones, without leases. */
    int liveCount() {
        return members.size() - leaseCount;
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

    /**
     * Adds a live member. Returns false when it took over a lease of the same user (nothing to
     * announce: the room's presence is unchanged), true when it is a new member.
     */
    boolean add(Subscription s) {
        live.merge(s.user, 1, Integer::sum);
        membersChanged = true;
        Member lease = takeLease(s.user);
        if (lease != null) {
            lease.subscription = s;
            s.memberNumber = lease.number;
            return false;
        }
        s.memberNumber = ++lastMemberNumber;
        Member m = new Member(s.memberNumber, s.user, s.name);
        m.subscription = s;
        members.put(m.number, m);
        return true;
    }

    /**
     * Removes a live member, or, with {@code lingerUntil} not 0 (nanoTime), turns its entry into a
     * lease that expires then. Returns true when the member is gone now (announce {@code left}).
     */
    boolean remove(Subscription s, long lingerUntil) {
        Member m = members.get(s.memberNumber);
        if (m == null || m.subscription != s) {
            return false;
        }
        membersChanged = true;
        live.computeIfPresent(s.user, (u, n) -> n > 1 ? n - 1 : null);
        m.subscription = null;
        if (lingerUntil == 0) {
            members.remove(m.number);
            return true;
        }
        m.expiresNanos = lingerUntil;
        addLease(m);
        return false;
    }

    /**
     * A poll by a named user: renews the user's lease here (or makes one, returning true: announce
     * {@code joined}), unless the user is here live already. A waiting poll holds the lease until
     * {@link #pollEnded}; one answered at once leaves it to expire at {@code expires}.
     */
    boolean polled(String user, String name, long expires, boolean waits) {
        if (live.containsKey(user)) {
            return false;
        }
        ArrayDeque<Member> mine = leases.get(user);
        boolean fresh = mine == null;
        Member lease;
        if (fresh) {
            lease = new Member(++lastMemberNumber, user, name);
            lease.expiresNanos = expires;
            members.put(lease.number, lease);
            addLease(lease);
        } else {
            lease = mine.getFirst();
            extend(lease, expires);
        }
        if (waits) {
            lease.waitingPolls++;
        }
        return fresh;
    }

    /** A waiting poll of {@code user} was answered or given up: its lease runs until {@code expires}. */
    void pollEnded(String user, long expires) {
        ArrayDeque<Member> mine = leases.get(user);
        if (mine == null) {
            return;
        }
        for (Member lease : mine) {
            if (lease.waitingPolls > 0) {
                lease.waitingPolls--;
                extend(lease, expires);
                return;
            }
        }
    }

    /** Removes the leases expired at {@code now}; returns their names (to announce {@code left}). */
    List<String> expire(long now) {
        List<String> gone = List.of();
        for (Expiry due = expiries.peek(); due != null && now - due.at >= 0; due = expiries.peek()) {
            expiries.poll();
            Member lease = due.lease;
            // A lease held by a waiting poll is looked at again once the poll ends (pollEnded adds it).
            if (!due.current() || lease.waitingPolls > 0) {
                continue;
            }
            ArrayDeque<Member> mine = leases.get(lease.user);
            mine.remove(lease);
            if (mine.isEmpty()) {
                leases.remove(lease.user);
            }
            leaseCount--;
            lease.leased = false;
            members.remove(lease.number);
            if (gone.isEmpty()) {
                gone = new ArrayList<>();
            }
            gone.add(lease.name);
        }
        if (leaseCount == 0) {
            expiries.clear();
        }
        return gone;
    }

    boolean hasLeases() {
        return leaseCount > 0;
    }

    /** Moves a lease's expiry to {@code expires} if that is later (nanoTime: compared by difference). */
    private void extend(Member lease, long expires) {
        if (expires - lease.expiresNanos > 0) {
            lease.expiresNanos = expires;
        }
        expiries.add(new Expiry(lease.expiresNanos, lease));
    }

    private void addLease(Member lease) {
        leases.computeIfAbsent(lease.user, u -> new ArrayDeque<>()).addLast(lease);
        leaseCount++;
        lease.leased = true;
        expiries.add(new Expiry(lease.expiresNanos, lease));
    }

    private Member takeLease(String user) {
        ArrayDeque<Member> mine = leases.get(user);
        if (mine == null) {
            return null;
        }
        Member lease = mine.removeFirst();
        if (mine.isEmpty()) {
            leases.remove(user);
        }
        leaseCount--;
        lease.leased = false;
        if (leaseCount == 0) {
            expiries.clear();
        }
        // A poll still waiting on it no longer holds it: the subscription does, and when that closes the
        // entry lingers the grace, whatever the poll does.
        lease.waitingPolls = 0;
        return lease;
    }

    /** Up to {@code limit} members who joined after member number {@code after}, in join order. */
    MembersPage page(long after, int limit) {
        List<String> names = new ArrayList<>(Math.min(limit, members.size()));
        long last = after;
        for (Member m : members.tailMap(after, false).values()) {
            if (names.size() == limit) {
                return new MembersPage(members.size(), names, last);
            }
            names.add(m.name);
            last = m.number;
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
            for (Member m : members.values()) {
                Subscription s = m.subscription;
                if (s != null) {
                    groups.computeIfAbsent(s.subscriber.executor(), e -> new ArrayList<>()).add(s);
                }
            }
            Map<Executor, Subscription[]> arrays = new HashMap<>();
            groups.forEach((e, list) -> arrays.put(e, list.toArray(Subscription[]::new)));
            byExecutor = arrays;
            membersChanged = false;
        }
        return byExecutor;
    }

    /**
     * One entry of the room's presence: live while {@link #subscription} is set, else a lease that
     * expires at {@link #expiresNanos} unless polls still wait on it.
     */
    private static final class Member {
        final long number;
        final String user;
        final String name;
        Subscription subscription;
        long expiresNanos;
        int waitingPolls;
        /** In {@link #leases}: a closed connection's entry lingering, or a long poller's. */
        boolean leased;

        Member(long number, String user, String name) {
            this.number = number;
            this.user = user;
            this.name = name;
        }
    }

    /** A lease's expiry as it was when this entry was added (nanoTime: ordered by difference). */
    private record Expiry(long at, Member lease) implements Comparable<Expiry> {

        /** Still the lease's expiry: not taken over, expired or moved since. */
        boolean current() {
            return lease.leased && lease.expiresNanos == at;
        }

        @Override
        public int compareTo(Expiry other) {
            return Long.signum(at - other.at);
        }
    }
}
