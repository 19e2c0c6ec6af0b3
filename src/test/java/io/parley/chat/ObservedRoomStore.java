package io.parley.chat;

import io.parley.store.RoomRecord;
import io.parley.store.RoomStore;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A real {@link RoomStore} watched from outside, for the tests of {@link RoomAccess}' re-reads: every
 * call goes to the real store and does what it does; this only counts the reads of one room
 * ({@code find}) and of every room ({@code list}), and can hold the next read of one room once it has
 * read (so that what it read is already stale) until the test lets go ({@link ObservedAccountStore.Hold}).
 * A decorator, not a mock: nothing is answered in the store's place.
 *
 * <p>Threads: any; the held call waits on the thread that made it (the {@code rooms} worker).
 */
final class ObservedRoomStore implements RoomStore {

    private final RoomStore real;
    private final Map<String, AtomicInteger> finds = new ConcurrentHashMap<>();
    private final AtomicInteger allFinds = new AtomicInteger();
    private final AtomicInteger lists = new AtomicInteger();
    private final AtomicReference<Held> next = new AtomicReference<>();
    private volatile ObservedAccountStore.Hold writes;

    private record Held(String room, ObservedAccountStore.Hold hold) { }

    ObservedRoomStore(RoomStore real) {
        this.real = real;
    }

    /** Reads of {@code room} alone so far. */
    int finds(String room) {
        AtomicInteger n = finds.get(room);
        return n == null ? 0 : n.get();
    }

    /** Reads of any one room so far. */
    int finds() {
        return allFinds.get();
    }

    /** Reads of every room so far. */
    int lists() {
        return lists.get();
    }

    /** Holds the next read of {@code room} alone, once it has read, until {@link ObservedAccountStore.Hold#release}. */
    ObservedAccountStore.Hold holdNextFind(String room) {
        ObservedAccountStore.Hold hold = new ObservedAccountStore.Hold();
        next.set(new Held(room, hold));
        return hold;
    }

    /** Holds every write of a room's settings, before it writes, until {@link ObservedAccountStore.Hold#release}. */
    ObservedAccountStore.Hold holdWrites() {
        ObservedAccountStore.Hold hold = new ObservedAccountStore.Hold();
        writes = hold;
        return hold;
    }

    @Override
    public RoomRecord find(String room) {
        RoomRecord found = real.find(room);
        finds.computeIfAbsent(room, r -> new AtomicInteger()).incrementAndGet();
        allFinds.incrementAndGet();
        Held held = next.get();
        if (held != null && held.room().equals(room) && next.compareAndSet(held, null)) {
            try {
                held.hold().hold();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return found;
    }

    @Override
    public List<RoomRecord> list() {
        lists.incrementAndGet();
        return real.list();
    }

    @Override
    public boolean create(RoomRecord room) {
        return real.create(room);
    }

    @Override
    public boolean setSettings(String room, String kind, String write) {
        ObservedAccountStore.Hold hold = writes;
        if (hold != null) {
            try {
                hold.hold();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return real.setSettings(room, kind, write);
    }

    @Override
    public boolean grant(String room, String user, String role) {
        return real.grant(room, user, role);
    }

    @Override
    public boolean revoke(String room, String user) {
        return real.revoke(room, user);
    }
}
