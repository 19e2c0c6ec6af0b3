package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Node-local fan-out: what one batch changed in each room (messages stored, members joined and left),
 * each broadcast encoded once, and handed to the task of every event loop that has members there.
 * Members of a loop share the same bytes (the transport frames them once per loop too), so a
 * broadcast's cost grows with the loops, not with the members, until the socket writes.
 *
 * <p><b>Presence in big rooms.</b> Naming every join to every member costs members x joins frames: a
 * room that fills to n members is sent about n²/2 of them (measured: 5,000 joins, 2.9 million frames,
 * 10 s). Above {@code namesUpTo} members a batch's joins and leaves are not broadcast; the room only
 * owes its members a count, which {@link #sendDueCounts} sends at most once per {@link #COUNT_INTERVAL_NANOS}.
 * At or below it, each batch's changes are named as before, and an owed count is dropped (the named
 * frame carries the count).
 *
 * <p>Threads: the sequencer's, like the {@link Room}s it reads.
 */
final class FanOut {

    /** How often a big room's count may go out. */
    static final long COUNT_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final BroadcastEncoder encoder;
    private final LongAdder deliveries;
    private final int namesUpTo;
    /** Big rooms that owe their members a count, in the order they came to owe it. */
    private final Set<Room> owing = new LinkedHashSet<>();

    /** @param namesUpTo the largest room whose joins and leaves are named; bigger ones get counts */
    FanOut(BroadcastEncoder encoder, LongAdder deliveries, int namesUpTo) {
        this.encoder = encoder;
        this.deliveries = deliveries;
        this.namesUpTo = namesUpTo;
    }

    /** Whether any room owes a count: the sequencer's idle wake-ups only need to look when one does. */
    boolean countsOwed() {
        return !owing.isEmpty();
    }

    /** Sends the counts that are due at {@code now} (nanoTime) into {@code tasks}. */
    void sendDueCounts(long now, LoopTasks tasks) {
        for (Iterator<Room> it = owing.iterator(); it.hasNext(); ) {
            Room room = it.next();
            if (!room.owedCount()) {
                it.remove();
            } else if (room.countDue(now, COUNT_INTERVAL_NANOS)) {
                it.remove();
                room.countSent(now);
                if (room.memberCount() > 0) {
                    Frame[] count = {new Frame(0, encoder.presenceCount(room.name, room.presenceCount()))};
                    room.membersByExecutor().forEach((executor, members) -> tasks.deliver(executor, members, count));
                }
            }
        }
    }

    /** A fresh record of one batch's changes. */
    Changes changes() {
        return new Changes();
    }

    /** One batch's changes, room by room, in the order the rooms were first touched. */
    final class Changes {
        private final Map<Room, RoomChange> rooms = new LinkedHashMap<>();

        void message(Room room, StoredMessage m) {
            of(room).messages.add(m);
        }

        void deleted(Room room, Tombstones t) {
            of(room).deleted.add(t);
        }

        void joined(Room room, String name) {
            of(room).joined.add(name);
        }

        void left(Room room, String name) {
            of(room).left.add(name);
        }

        /**
         * Encodes each room's broadcasts once and adds them to each of its loops' tasks. Returns the
         * rooms that got messages, whose waiting polls can now be answered.
         */
        List<Room> deliver(LoopTasks tasks) {
            List<Room> withMessages = new ArrayList<>();
            for (Map.Entry<Room, RoomChange> e : rooms.entrySet()) {
                Room room = e.getKey();
                RoomChange change = e.getValue();
                List<Frame> frames = new ArrayList<>(change.messages.size() + 1);
                for (StoredMessage m : change.messages) {
                    frames.add(new Frame(m.seq(), encoder.message(m)));
                }
                // After the batch's messages, so a deletion never reaches a member before what it deletes.
                for (Tombstones t : change.deleted) {
                    frames.add(new Frame(0, encoder.tombstones(t)));
                }
                if (!change.joined.isEmpty() || !change.left.isEmpty()) {
                    if (room.presenceCount() > namesUpTo) {
                        room.owesCount();
                        owing.add(room);
                    } else {
                        room.countCancelled();
                        frames.add(new Frame(0, encoder.presence(room.name, room.presenceCount(), change.joined, change.left)));
                    }
                }
                // Not even the grouping by loop when nothing goes out: rebuilding it is O(members), and
                // a big room's join batches send nothing.
                if (!frames.isEmpty()) {
                    Frame[] framesArray = frames.toArray(Frame[]::new);
                    room.membersByExecutor().forEach((executor, members) -> tasks.deliver(executor, members, framesArray));
                }
                deliveries.add((long) change.messages.size() * room.liveCount());
                if (!change.messages.isEmpty()) {
                    withMessages.add(room);
                }
            }
            return withMessages;
        }

        private RoomChange of(Room room) {
            return rooms.computeIfAbsent(room, r -> new RoomChange());
        }
    }

    private static final class RoomChange {
        final List<StoredMessage> messages = new ArrayList<>();
        final List<Tombstones> deleted = new ArrayList<>();
        final List<String> joined = new ArrayList<>();
        final List<String> left = new ArrayList<>();
    }
}
