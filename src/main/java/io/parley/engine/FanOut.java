package io.parley.engine;

import io.parley.store.StoredMessage;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Node-local fan-out: what one batch changed in each room (messages stored, members joined and left),
 * each broadcast encoded once, and handed to the task of every event loop that has members there.
 * Members of a loop share the same bytes (the transport frames them once per loop too), so a
 * broadcast's cost grows with the loops, not with the members, until the socket writes.
 *
 * <p>Threads: the sequencer's, like the {@link Room}s it reads.
 */
final class FanOut {

    private final BroadcastEncoder encoder;
    private final LongAdder deliveries;

    FanOut(BroadcastEncoder encoder, LongAdder deliveries) {
        this.encoder = encoder;
        this.deliveries = deliveries;
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
                if (!change.joined.isEmpty() || !change.left.isEmpty()) {
                    frames.add(new Frame(0, encoder.presence(room.name, room.presenceCount(), change.joined, change.left)));
                }
                Frame[] framesArray = frames.toArray(Frame[]::new);
                room.membersByExecutor().forEach((executor, members) -> tasks.deliver(executor, members, framesArray));
                deliveries.add((long) change.messages.size() * room.memberCount());
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
        final List<String> joined = new ArrayList<>();
        final List<String> left = new ArrayList<>();
    }
}
