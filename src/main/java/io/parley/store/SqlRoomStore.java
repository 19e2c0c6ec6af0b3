package io.parley.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.parley.store.SqlAccountStore.update;

/**
 * The SQL of {@link RoomStore}, one text for both databases, run on the connections of the account
 * store it belongs to (which also creates its tables).
 *
 * <p>Threads: as safe as the account store's connections.
 */
final class SqlRoomStore implements RoomStore {

    static final String[] TABLES = {
            """
            CREATE TABLE IF NOT EXISTS room_records (
                name         text   PRIMARY KEY,
                kind         text   NOT NULL,
                write_policy text   NOT NULL,
                created_by   text   NOT NULL,
                created_at   bigint NOT NULL
            )""",
            """
            CREATE TABLE IF NOT EXISTS room_roles (
                room    text NOT NULL,
                user_id text NOT NULL,
                role    text NOT NULL,
                PRIMARY KEY (room, user_id)
            )"""
    };

    private final SqlAccountStore db;

    SqlRoomStore(SqlAccountStore db) {
        this.db = db;
    }

    @Override
    public boolean create(RoomRecord r) {
        return db.transaction("creating room " + r.name(), c -> {
            int added = update(c, "INSERT INTO room_records(name, kind, write_policy, created_by, created_at) VALUES (?, ?, ?, ?, ?)"
                    + " ON CONFLICT (name) DO NOTHING", r.name(), r.kind(), r.write(), r.createdBy(), r.createdAt());
            if (added == 0) {
                return false;
            }
            // Roles left from a room of the same name that no longer exists are not this room's.
            update(c, "DELETE FROM room_roles WHERE room = ?", r.name());
            for (Map.Entry<String, String> role : r.roles().entrySet()) {
                update(c, "INSERT INTO room_roles(room, user_id, role) VALUES (?, ?, ?)", r.name(), role.getKey(),
                        role.getValue());
            }
            return true;
        });
    }

    @Override
    public boolean setSettings(String room, String kind, String write) {
        return db.call("changing room " + room,
                c -> update(c, "UPDATE room_records SET kind = ?, write_policy = ? WHERE name = ?", kind, write, room)) > 0;
    }

    @Override
    public boolean grant(String room, String user, String role) {
        return db.transaction("granting a role in room " + room, c -> {
            if (!exists(c, room)) {
                return false;
            }
            update(c, "INSERT INTO room_roles(room, user_id, role) VALUES (?, ?, ?)"
                    + " ON CONFLICT (room, user_id) DO UPDATE SET role = excluded.role", room, user, role);
            return true;
        });
    }

    @Override
    public boolean revoke(String room, String user) {
        return db.call("revoking a role in room " + room,
                c -> update(c, "DELETE FROM room_roles WHERE room = ? AND user_id = ?", room, user)) > 0;
    }

    @Override
    public RoomRecord find(String room) {
        List<RoomRecord> found = db.call("reading room " + room, c -> rooms(c, room));
        return found.isEmpty() ? null : found.getFirst();
    }

    @Override
    public List<RoomRecord> list() {
        return db.call("reading the rooms", c -> rooms(c, null));
    }

    /** One room ({@code only}) or all, each with its roles: two queries, whatever the number of rooms. */
    private static List<RoomRecord> rooms(Connection c, String only) throws SQLException {
        String where = only == null ? "" : " WHERE name = ?";
        Map<String, Map<String, String>> roles = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT room, user_id, role FROM room_roles"
                + (only == null ? "" : " WHERE room = ?"))) {
            if (only != null) {
                ps.setString(1, only);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    roles.computeIfAbsent(rs.getString(1), k -> new LinkedHashMap<>()).put(rs.getString(2), rs.getString(3));
                }
            }
        }
        List<RoomRecord> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT name, kind, write_policy, created_by, created_at FROM room_records" + where + " ORDER BY name")) {
            if (only != null) {
                ps.setString(1, only);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String name = rs.getString(1);
                    out.add(new RoomRecord(name, rs.getString(2), rs.getString(3), rs.getString(4), rs.getLong(5),
                            roles.getOrDefault(name, Map.of())));
                }
            }
        }
        return out;
    }

    private static boolean exists(Connection c, String room) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM room_records WHERE name = ?")) {
            ps.setString(1, room);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }
}
