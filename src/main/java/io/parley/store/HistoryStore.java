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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Room history in an embedded SQLite file, {@code parley.db} in the data directory.
 *
 * <p>Threads: the write side ({@link #loadTail}, {@link #append}) belongs to the engine's sequencer
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
public final class HistoryStore implements AutoCloseable {

    private static final int READ_CONNECTIONS = 2;
    /** The columns of a {@link StoredMessage}, in the order {@link #query} reads them. */
    private static final String COLUMNS = "SELECT room, seq, id, sender, text, ts FROM messages ";
    private static final String NEWEST = COLUMNS + "WHERE room = ? ORDER BY seq DESC LIMIT ?";

    private final Connection writer;
    private final PreparedStatement insert;
    private final BlockingQueue<Connection> readers = new ArrayBlockingQueue<>(READ_CONNECTIONS);
    private final List<Connection> all = new ArrayList<>();

    private HistoryStore(String url, boolean durableSync) throws SQLException {
        writer = open(url, durableSync);
        migrate(writer);
        insert = writer.prepareStatement(
                "INSERT INTO messages(room, seq, id, sender, text, ts) VALUES (?, ?, ?, ?, ?, ?)");
        for (int i = 0; i < READ_CONNECTIONS; i++) {
            Connection c = open(url, durableSync);
            try (Statement st = c.createStatement()) {
                st.execute("PRAGMA query_only=1");
            }
            readers.add(c);
        }
    }

    /** Opens (creating if needed) {@code parley.db} in {@code dataDir}. */
    public static HistoryStore openSqlite(Path dataDir, boolean durableSync) throws IOException, SQLException {
        Files.createDirectories(dataDir);
        Path file = dataDir.resolve("parley.db").toAbsolutePath();
        return new HistoryStore("jdbc:sqlite:" + file, durableSync);
    }

    private Connection open(String url, boolean durableSync) throws SQLException {
        Connection c = DriverManager.getConnection(url);
        all.add(c);
        try (Statement s = c.createStatement()) {
            s.execute("PRAGMA journal_mode=WAL");
            s.execute("PRAGMA synchronous=" + (durableSync ? "FULL" : "NORMAL"));
            // A reader or a checkpoint may hold the lock for a moment; wait rather than fail.
            s.execute("PRAGMA busy_timeout=5000");
        }
        return c;
    }

    private static void migrate(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
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
        }
    }

    /**
     * The newest {@code limit} messages of a room, oldest first, and its last seq (0 for a new room).
     * Sequencer thread only.
     */
    public RoomTail loadTail(String room, int limit) throws SQLException {
        if (limit < 1) {
            // With no message read, the last seq could not be known from them.
            throw new IllegalArgumentException("limit must be positive, was " + limit);
        }
        List<StoredMessage> recent = query(writer, NEWEST, room, limit);
        Collections.reverse(recent);
        return new RoomTail(recent.isEmpty() ? 0 : recent.getLast().seq(), recent);
    }

    /** Writes a batch in one transaction: all of it is on disk, or none. Sequencer thread only. */
    public void append(List<StoredMessage> batch) throws SQLException {
        if (batch.isEmpty()) {
            return;
        }
        writer.setAutoCommit(false);
        try {
            for (StoredMessage m : batch) {
                insert.setString(1, m.room());
                insert.setLong(2, m.seq());
                insert.setString(3, m.id());
                insert.setString(4, m.from());
                insert.setString(5, m.text());
                insert.setLong(6, m.time());
                insert.addBatch();
            }
            insert.executeBatch();
            writer.commit();
        } catch (SQLException e) {
            insert.clearBatch();
            writer.rollback();
            throw e;
        } finally {
            writer.setAutoCommit(true);
        }
    }

    /** Messages with {@code since < seq <= upTo}, oldest first, at most {@code limit}. Blocks. */
    public List<StoredMessage> after(String room, long since, long upTo, int limit) throws SQLException {
        return read(COLUMNS + "WHERE room = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?", false,
                room, since, upTo, limit);
    }

    /** The {@code limit} messages just before {@code before}, oldest first. Blocks. */
    public List<StoredMessage> before(String room, long before, int limit) throws SQLException {
        return read(COLUMNS + "WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?", true, room, before, limit);
    }

    /** The newest {@code limit} messages, oldest first. Blocks. */
    public List<StoredMessage> latest(String room, int limit) throws SQLException {
        return read(NEWEST, true, room, limit);
    }

    private List<StoredMessage> read(String sql, boolean newestFirst, Object... args) throws SQLException {
        Connection c;
        try {
            c = readers.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted waiting for a read connection", e);
        }
        try {
            List<StoredMessage> rows = query(c, sql, args);
            if (newestFirst) {
                Collections.reverse(rows);
            }
            return rows;
        } finally {
            readers.add(c);
        }
    }

    private static List<StoredMessage> query(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            List<StoredMessage> rows = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new StoredMessage(rs.getString(1), rs.getLong(2), rs.getString(3),
                            rs.getString(4), rs.getString(5), rs.getLong(6)));
                }
            }
            return rows;
        }
    }

    @Override
    public void close() throws SQLException {
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
            throw first;
        }
    }

    /** What the sequencer needs to continue a room: its last seq and its recent messages. */
    public record RoomTail(long lastSeq, List<StoredMessage> recent) {
    }
}
