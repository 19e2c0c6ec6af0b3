package io.parley.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Room history in an embedded SQLite file, {@code parley.db} in the data directory: the store of a
 * single node, and the default.
 *
 * <p>Threads: the write side ({@link #loadTail}, {@link #append}, {@link #findSent}, {@link #prune}) belongs to the engine's sequencer
 * thread alone, on one connection, so writes never contend. The read side ({@link #after},
 * {@link #before}, {@link #latest}) may be called from any thread that is allowed to block (the
 * engine's reader pool), and borrows one of a few read connections. The file runs in WAL mode, so
 * readers see the last committed state and never wait for the writer.
 *
 * <p>Durability: every {@link #append} is one transaction. With {@code durableSync=false} SQLite's
 * WAL runs with {@code synchronous=NORMAL}: a committed batch survives the process being killed, but
 * the last batches may be lost if the machine loses power. {@code durableSync=true} fsyncs every
 * commit; batching keeps that to one fsync per batch, not per message.
 */
public final class SqliteHistoryStore implements HistoryStore {

    private static final int READ_CONNECTIONS = 2;
    /** A reader, a checkpoint or a backup may hold the lock for a moment: wait this long rather than fail. */
    public static final Duration DEFAULT_BUSY_TIMEOUT = Duration.ofSeconds(5);
    /** The columns of a {@link StoredMessage}, in the order {@link StoredRows#row} reads them. */
    private static final String SELECT = "SELECT room, seq, id, user, sender, text, ts, deleted_by, deleted_at ";
    private static final String COLUMNS = SELECT + "FROM messages ";
    private static final String NEWEST = COLUMNS + "WHERE room = ? ORDER BY seq DESC LIMIT ?";
    /** A batch's highest seq and time of a room, into the rooms table (never lowered). */
    private static final String RAISE_ROOM = "INSERT INTO rooms(name, last_seq, last_time) VALUES (?, ?, ?) "
            + "ON CONFLICT(name) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), "
            + "last_time = max(last_time, excluded.last_time)";

    private final Connection writer;
    private final PreparedStatement insert;
    private final PreparedStatement raiseRoom;
    private final PreparedStatement findSent;
    private final PreparedStatement firstSeq;
    private final PreparedStatement prune;
    private final PreparedStatement tombstone;
    private final BlockingQueue<Connection> readers = new ArrayBlockingQueue<>(READ_CONNECTIONS);
    private final List<Connection> all = new ArrayList<>();

    private final long busyTimeoutMillis;

    private SqliteHistoryStore(String url, boolean durableSync, Duration busyTimeout) throws SQLException {
        busyTimeoutMillis = busyTimeout.toMillis();
        if (busyTimeoutMillis < 0 || busyTimeoutMillis > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the busy timeout must be 0 to " + Integer.MAX_VALUE + " ms, was "
                    + busyTimeout);
        }
        writer = open(url, durableSync);
        migrate(writer);
        insert = writer.prepareStatement(
                "INSERT INTO messages(room, seq, id, user, sender, text, ts) VALUES (?, ?, ?, ?, ?, ?, ?)");
        // INDEXED BY: without statistics SQLite prefers the primary key's room prefix and walks the
        // whole room for every send (measured: 17 sends/s into a room of 4000 messages).
        findSent = writer.prepareStatement(
                SELECT + "FROM messages INDEXED BY messages_by_id WHERE room = ? AND user = ? AND id = ?");
        raiseRoom = writer.prepareStatement(RAISE_ROOM);
        firstSeq = writer.prepareStatement("SELECT MIN(seq) FROM messages WHERE room = ?");
        prune = writer.prepareStatement("DELETE FROM messages WHERE room = ? AND seq <= ?");
        tombstone = writer.prepareStatement("UPDATE messages SET text = '', deleted_by = ?, deleted_at = ? "
                + "WHERE room = ? AND seq > ? AND seq <= ? AND deleted_by IS NULL RETURNING seq");
        for (int i = 0; i < READ_CONNECTIONS; i++) {
            Connection c = open(url, durableSync);
            try (Statement st = c.createStatement()) {
                st.execute("PRAGMA query_only=1");
            }
            readers.add(c);
        }
    }

    /** Opens (creating if needed) {@code parley.db} in {@code dataDir}, waiting up to 5 s for a lock. */
    public static SqliteHistoryStore open(Path dataDir, boolean durableSync) {
        return open(dataDir, durableSync, DEFAULT_BUSY_TIMEOUT);
    }

    /**
     * Opens (creating if needed) {@code parley.db} in {@code dataDir}.
     *
     * @param busyTimeout how long a statement waits for a lock another connection or process holds
     *                    before it fails ({@code PRAGMA busy_timeout}, in whole milliseconds)
     */
    public static SqliteHistoryStore open(Path dataDir, boolean durableSync, Duration busyTimeout) {
        Path file = dataDir.resolve("parley.db").toAbsolutePath();
        try {
            Files.createDirectories(dataDir);
            return new SqliteHistoryStore("jdbc:sqlite:" + file, durableSync, busyTimeout);
        } catch (IOException | SQLException e) {
            throw new StoreException("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    private Connection open(String url, boolean durableSync) throws SQLException {
        Connection c = DriverManager.getConnection(url);
        all.add(c);
        try (Statement s = c.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA synchronous=" + (durableSync ? "FULL" : "NORMAL"));
            // A reader or a checkpoint may hold the lock for a moment; wait rather than fail.
            s.execute("PRAGMA busy_timeout=" + busyTimeoutMillis);
        }
        return c;
    }

    /**
     * Brings the file to the current schema; {@code PRAGMA user_version} says which steps it has had.
     * Version 1 is the first release's table; version 2 adds the sender's user id and the index that
     * makes a resent message findable by its client id; version 3 adds {@code rooms}, each room's last
     * seq and time, so that the rooms list walks an index of rooms rather than every message (a
     * {@code GROUP BY room} reads the whole table); version 4 adds who deleted a message and when (a
     * tombstone keeps its row, its text emptied).
     */
    private static void migrate(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            int version;
            try (ResultSet rs = s.executeQuery("PRAGMA user_version")) {
                version = rs.next() ? rs.getInt(1) : 0;
            }
            c.setAutoCommit(false);
            try {
                // WITHOUT ROWID: the primary key is the table, so reading a room's range is one b-tree walk.
                s.execute("""
                        CREATE TABLE IF NOT EXISTS messages (
                            room   TEXT    NOT NULL,
                            seq    INTEGER NOT NULL,
                            id     TEXT    NOT NULL,
                            sender TEXT    NOT NULL,
                            text   TEXT    NOT NULL,
                            ts     INTEGER NOT NULL,
                            PRIMARY KEY (room, seq)
                        ) WITHOUT ROWID""");
                if (version < 2) {
                    // Before tokens every sender was a guest, known by name.
                    s.execute("ALTER TABLE messages ADD COLUMN user TEXT NOT NULL DEFAULT ''");
                    s.execute("UPDATE messages SET user = 'guest:' || sender");
                    // Not UNIQUE: history written before ids were checked may repeat one. The sequencer,
                    // the only writer, looks an id up before it stores a message.
                    s.execute("CREATE INDEX messages_by_id ON messages(room, user, id)");
                    s.execute("PRAGMA user_version = 2");
                }
                if (version < 3) {
                    // A bare column beside max() comes from the row with the max: each room's last message.
                    s.execute("CREATE TABLE rooms (name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, "
                            + "last_time INTEGER NOT NULL) WITHOUT ROWID");
                    s.execute("INSERT INTO rooms(name, last_seq, last_time) SELECT room, max(seq), ts FROM messages "
                            + "GROUP BY room");
                    s.execute("CREATE INDEX rooms_by_time ON rooms(last_time DESC, name)");
                    s.execute("PRAGMA user_version = 3");
                }
                if (version < 4) {
                    s.execute("ALTER TABLE messages ADD COLUMN deleted_by TEXT");
                    s.execute("ALTER TABLE messages ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0");
                    s.execute("PRAGMA user_version = 4");
                }
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        }
    }

    /**
     * The newest {@code limit} messages of a room, oldest first, and its last seq (0 for a new room).
     * Sequencer thread only.
     */
    @Override
    public RoomTail loadTail(String room, int limit) {
        if (limit < 1) {
            // With no message read, the last seq could not be known from them.
            throw new IllegalArgumentException("limit must be positive, was " + limit);
        }
        try {
            List<StoredMessage> recent = StoredRows.query(writer, NEWEST, room, limit);
            Collections.reverse(recent);
            long last = recent.isEmpty() ? 0 : recent.getLast().seq();
            long first = last + 1;
            firstSeq.setString(1, room);
            try (ResultSet rs = firstSeq.executeQuery()) {
                if (rs.next() && rs.getObject(1) != null) {
                    first = rs.getLong(1);
                }
            }
            return new RoomTail(last, first, recent);
        } catch (SQLException e) {
            throw new StoreException("loading room " + room, e);
        }
    }

    /**
     * The message {@code user} already sent to {@code room} with this client {@code id}, or null.
     * Sequencer thread only: it runs right before the batch that might store the id again.
     */
    @Override
    public StoredMessage findSent(String room, String user, String id) {
        try {
            findSent.setString(1, room);
            findSent.setString(2, user);
            findSent.setString(3, id);
            try (ResultSet rs = findSent.executeQuery()) {
                return rs.next() ? StoredRows.row(rs) : null;
            }
        } catch (SQLException e) {
            throw new StoreException("looking up message id " + id + " in room " + room, e);
        }
    }

    /** Deletes a room's messages up to and including {@code upTo}. Sequencer thread only. */
    @Override
    public void prune(String room, long upTo) {
        try {
            prune.setString(1, room);
            prune.setLong(2, upTo);
            prune.executeUpdate();
        } catch (SQLException e) {
            throw new StoreException("deleting old messages of room " + room, e);
        }
    }

    /**
     * Empties the text of a room's messages in {@code (after, upTo]} not deleted before and returns
     * their seqs. Sequencer thread only. One statement, a write from its start: a read first (the seqs,
     * then the update) would hold a snapshot that another connection's write to the file (the accounts',
     * the audit log's) makes stale, and SQLite then refuses the upgrade to a write at once
     * (SQLITE_BUSY_SNAPSHOT) instead of waiting its busy timeout.
     */
    @Override
    public List<Long> tombstone(String room, long after, long upTo, String by, long at) {
        try {
            tombstone.setString(1, by);
            tombstone.setLong(2, at);
            tombstone.setString(3, room);
            tombstone.setLong(4, after);
            tombstone.setLong(5, upTo);
            List<Long> seqs = new ArrayList<>();
            try (ResultSet rs = tombstone.executeQuery()) {
                while (rs.next()) {
                    seqs.add(rs.getLong(1));
                }
            }
            Collections.sort(seqs);
            return seqs;
        } catch (SQLException e) {
            throw new StoreException("deleting messages of room " + room, e);
        }
    }

    /** Writes a batch in one transaction: all of it is on disk, or none. Sequencer thread only. */
    @Override
    public void append(List<StoredMessage> batch) {
        if (batch.isEmpty()) {
            return;
        }
        try {
            appendInOneTransaction(batch);
        } catch (SQLException e) {
            throw new StoreException("storing " + batch.size() + " messages", e);
        }
    }

    private void appendInOneTransaction(List<StoredMessage> batch) throws SQLException {
        writer.setAutoCommit(false);
        try {
            for (StoredMessage m : batch) {
                insert.setString(1, m.room());
                insert.setLong(2, m.seq());
                insert.setString(3, m.id());
                insert.setString(4, m.user());
                insert.setString(5, m.from());
                insert.setString(6, m.text());
                insert.setLong(7, m.time());
                insert.addBatch();
            }
            insert.executeBatch();
            raiseRooms(batch);
            writer.commit();
        } catch (SQLException e) {
            insert.clearBatch();
            raiseRoom.clearBatch();
            writer.rollback();
            throw e;
        } finally {
            writer.setAutoCommit(true);
        }
    }

    /** One row per room of the batch: its highest seq, and the time of that message. */
    private void raiseRooms(List<StoredMessage> batch) throws SQLException {
        Map<String, StoredMessage> last = new HashMap<>();
        for (StoredMessage m : batch) {
            last.merge(m.room(), m, (a, b) -> b.seq() > a.seq() ? b : a);
        }
        for (StoredMessage m : last.values()) {
            raiseRoom.setString(1, m.room());
            raiseRoom.setLong(2, m.seq());
            raiseRoom.setLong(3, m.time());
            raiseRoom.addBatch();
        }
        raiseRoom.executeBatch();
    }

    @Override
    public List<RoomActivity> rooms(int limit) {
        Connection c = reader();
        try {
            return StoredRows.rooms(c, "", limit);
        } catch (SQLException e) {
            throw new StoreException("listing rooms", e);
        } finally {
            readers.add(c);
        }
    }

    /** Messages with {@code since < seq <= upTo}, oldest first, at most {@code limit}. Blocks. */
    @Override
    public List<StoredMessage> after(String room, long since, long upTo, int limit) {
        return read(COLUMNS + "WHERE room = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?", false,
                room, since, upTo, limit);
    }

    /** The {@code limit} messages just before {@code before}, oldest first. Blocks. */
    @Override
    public List<StoredMessage> before(String room, long before, int limit) {
        return read(COLUMNS + "WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?", true, room, before, limit);
    }

    /** The newest {@code limit} messages, oldest first. Blocks. */
    @Override
    public List<StoredMessage> latest(String room, int limit) {
        return read(NEWEST, true, room, limit);
    }

    /** A read connection; give it back to {@link #readers}. */
    private Connection reader() {
        try {
            return readers.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted waiting for a read connection", e);
        }
    }

    private List<StoredMessage> read(String sql, boolean newestFirst, Object... args) {
        Connection c = reader();
        try {
            List<StoredMessage> rows = StoredRows.query(c, sql, args);
            if (newestFirst) {
                Collections.reverse(rows);
            }
            return rows;
        } catch (SQLException e) {
            throw new StoreException("reading history of room " + args[0], e);
        } finally {
            readers.add(c);
        }
    }

    @Override
    public void close() {
        SQLException first = null;
        for (Connection c : all) {
            try {
                c.close();
            } catch (SQLException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw new StoreException("closing the store", first);
        }
    }
}
