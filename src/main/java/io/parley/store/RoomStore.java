package io.parley.store;

import java.util.List;

/**
 * The rooms created explicitly and their people, in the server's database beside the accounts (the
 * SQLite file {@code parley.db}, or the PostgreSQL of {@code --postgres-url}, which every node shares).
 * Got from {@link AccountStore#rooms()}, on the same connections.
 *
 * <p><b>Tables.</b> {@code room_records(name, kind, write_policy, created_by, created_at)} (the history has a {@code rooms} table of its own in PostgreSQL) and
 * {@code room_roles(room, user_id, role)}, one role per user and room (a grant replaces the one before).
 *
 * <p><b>Threads.</b> Every method blocks on the database: call from a worker thread, never an event
 * loop. Safe from several threads at once.
 */
public interface RoomStore {

    /**
     * Stores a new room with its roles.
     *
     * @return false if a room of that name exists already (nothing changes)
     */
    boolean create(RoomRecord room);

    /** @return whether the room exists */
    boolean setSettings(String room, String kind, String write);

    /** Gives {@code user} {@code role} in the room, replacing the one it had. @return whether the room exists */
    boolean grant(String room, String user, String role);

    /** @return whether the user had a role in the room */
    boolean revoke(String room, String user);

    /** One room with its roles, or null. */
    RoomRecord find(String room);

    /** Every room with its roles, by name. */
    List<RoomRecord> list();
}
