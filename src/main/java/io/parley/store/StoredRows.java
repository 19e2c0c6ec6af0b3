package io.parley.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reading {@link StoredMessage}s out of SQL, the same for both stores: a query whose columns are a
 * message's fields in record order (room, seq, id, user, from, text, time, deleted by, deleted at),
 * whatever each store names them. And the rooms list, whose table both stores name alike.
 */
final class StoredRows {

    private StoredRows() {
    }

    /** Runs {@code sql} with {@code args} bound in order and reads every row as a message. */
    static List<StoredMessage> query(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            List<StoredMessage> rows = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(row(rs));
                }
            }
            return rows;
        }
    }

    /**
     * The rooms list, the same in both stores: their {@code rooms} tables have the same columns, and
     * {@code rooms_by_time} makes this an index walk of {@code limit} rows. {@code where} narrows it.
     */
    static List<HistoryStore.RoomActivity> rooms(Connection c, String where, int limit) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT name, last_seq, last_time FROM rooms " + where
                + " ORDER BY last_time DESC, name LIMIT ?")) {
            ps.setInt(1, limit);
            List<HistoryStore.RoomActivity> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new HistoryStore.RoomActivity(rs.getString(1), rs.getLong(2), rs.getLong(3)));
                }
            }
            return out;
        }
    }

    /** The current row as a message. */
    static StoredMessage row(ResultSet rs) throws SQLException {
        return new StoredMessage(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4),
                rs.getString(5), rs.getString(6), rs.getLong(7), rs.getString(8), rs.getLong(9));
    }
}
