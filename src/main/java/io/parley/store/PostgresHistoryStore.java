package io.parley.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.SocketTimeoutException;
import java.sql.Array;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Room history in PostgreSQL ({@code --postgres-url}): the store a node uses instead of SQLite, and the
 * one several nodes share.
 *
 * <p><b>Tables.</b> {@code messages(room, seq, client_id, sender_user, sender_name, body, sent_at)}, keyed
 * by {@code (room, seq)}, with a UNIQUE index on {@code (room, sender_user, client_id)}: whatever a node
 * believes, the database never stores one client id twice. {@code rooms(name, last_seq)} holds each
 * room's highest seq, so the seq survives retention, and its row is the lock that orders a room across
 * nodes ({@link #sequence}). {@code schema_version} says which migration steps the database has had.
 *
 * <p><b>Threads.</b> Every call borrows a connection from a small HikariCP pool and returns it before it
 * returns, so the sequencer (write side) and the engine's readers never share a connection, and a
 * connection broken by a PostgreSQL restart is dropped by the pool instead of failing every later call.
 * {@link #sequence} may be called from any number of threads and nodes at once.
 *
 * <p><b>Failures.</b> Every blocking step has a bound: a connection is handed out within
 * {@link #CONNECTION_TIMEOUT_MS} (a PostgreSQL that is down fails here, fast), a statement runs at most
 * {@link #STATEMENT_TIMEOUT_MS}, and a socket that stops answering is given up after
 * {@link #SOCKET_TIMEOUT_S}. Each failure is a {@link StoreException}, and a failed write stored nothing.
 *
 * <p><b>Durability.</b> A batch is one transaction, committed with PostgreSQL's default
 * {@code synchronous_commit=on}: when {@link #append} or {@link #sequence} returns, the batch is in the
 * server's WAL on disk (and on its synchronous replicas, if it has any).
 */
public final class PostgresHistoryStore implements HistoryStore {

    /** The schema this code reads and writes; {@link #migrate} brings older databases to it. */
    static final int SCHEMA_VERSION = 3;
    /** A constant key for pg_advisory_xact_lock: nodes starting at once migrate one after another. */
    private static final long MIGRATION_LOCK = 0x7061726c6579L; // "parley"
    /**
     * The sequencer's connection, the engine's two readers, and one spare so that a connection being
     * replaced after a failure never makes a caller wait.
     */
    private static final int POOL_SIZE = 4;
    static final long CONNECTION_TIMEOUT_MS = 2000;
    static final long STATEMENT_TIMEOUT_MS = 5000;
    /** Longer than a statement may run, so it only fires for a server that stopped answering. */
    static final int SOCKET_TIMEOUT_S = 10;

    private static final String SELECT =
            "SELECT room, seq, client_id, sender_user, sender_name, body, sent_at, deleted_by, deleted_at FROM messages ";
    private static final String NEWEST = SELECT + "WHERE room = ? ORDER BY seq DESC LIMIT ?";
    private static final String INSERT = "INSERT INTO messages(room, seq, client_id, sender_user, sender_name, "
            + "body, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)";

    /**
     * The stored messages of a batch's (user, client id) pairs in one room: one index lookup per pair.
     * The LIMIT keeps PostgreSQL from merging the subquery into a join, which it then planned as a walk
     * over the whole room (measured: 46 ms per batch in a room of 20,000 messages, against 0.1 ms).
     */
    static final String STORED_ALREADY = "SELECT m.room, m.seq, m.client_id, m.sender_user, m.sender_name, m.body, "
            + "m.sent_at, m.deleted_by, m.deleted_at FROM unnest(?::text[], ?::text[]) AS k(sender_user, client_id) CROSS JOIN LATERAL "
            + "(SELECT * FROM messages WHERE room = ? AND sender_user = k.sender_user AND client_id = k.client_id "
            + "LIMIT 1) m";

    private final HikariDataSource pool;

    private static final Logger log = LoggerFactory.getLogger(PostgresHistoryStore.class);
    /** How long a starting node waits for a PostgreSQL that is slow to let it in. */
    static final long START_PATIENCE_MS = 15_000;

    private PostgresHistoryStore(HikariDataSource pool) {
        this.pool = pool;
    }

    /**
     * Connects, and brings the database's schema to this version (safe when several nodes start at
     * once). Throws StoreException when PostgreSQL cannot be reached or the schema is newer than this code.
     */
    public static PostgresHistoryStore open(PostgresUrl url) {
        HikariDataSource pool = pool(url, "parley-postgres", POOL_SIZE);
        try {
            PostgresHistoryStore store = new PostgresHistoryStore(pool);
            store.migrate();
            return store;
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    /**
     * A pool of {@code size} connections with this store's bounds (connection, statement and socket
     * timeouts), opened with {@link #connect}'s patience; the account store borrows the same settings.
     */
    static HikariDataSource pool(PostgresUrl url, String name, int size) {
        HikariConfig config = new HikariConfig();
        config.setPoolName(name);
        config.setJdbcUrl(url.jdbcUrl());
        config.setUsername(url.user());
        config.setPassword(url.password());
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(CONNECTION_TIMEOUT_MS);
        config.setValidationTimeout(1000);
        // The driver's own bounds: opening a socket, logging in, and a reply that never comes.
        config.addDataSourceProperty("connectTimeout", String.valueOf(CONNECTION_TIMEOUT_MS / 1000));
        config.addDataSourceProperty("loginTimeout", String.valueOf(CONNECTION_TIMEOUT_MS / 1000));
        config.addDataSourceProperty("socketTimeout", String.valueOf(SOCKET_TIMEOUT_S));
        // One INSERT of many rows per batch instead of one round trip per message.
        config.addDataSourceProperty("reWriteBatchedInserts", "true");
        config.addDataSourceProperty("ApplicationName", "parley");
        config.setConnectionInitSql("SET statement_timeout = " + STATEMENT_TIMEOUT_MS);
        return connect(config, url);
    }

    /**
     * Opens the pool, trying again for up to {@value #START_PATIENCE_MS} ms while PostgreSQL is slow to
     * answer: a database under load may take longer than one connection timeout to accept a login (seen
     * with three nodes starting beside it on two busy cores). Anything else (refused: nothing listens; a
     * wrong password; a missing database) fails at once, and the node does not start.
     */
    private static HikariDataSource connect(HikariConfig config, PostgresUrl url) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_PATIENCE_MS);
        while (true) {
            try {
                return new HikariDataSource(config);
            } catch (RuntimeException e) {
                // HikariCP's PoolInitializationException wraps the driver's reason (refused, bad password).
                Throwable reason = e.getCause() != null ? e.getCause() : e;
                boolean waitable = timedOut(reason);
                if (!waitable || System.nanoTime() > deadline) {
                    throw new StoreException("connecting to PostgreSQL at " + url.jdbcUrl(), reason);
                }
                log.warn("PostgreSQL at {} does not answer yet ({}); trying again", url.jdbcUrl(), reason.getMessage());
                try {
                    Thread.sleep(500);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new StoreException("connecting to PostgreSQL at " + url.jdbcUrl(), reason);
                }
            }
        }
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SocketTimeoutException || (t.getMessage() != null && t.getMessage().contains("timed out"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * Brings the database to {@link #SCHEMA_VERSION} in one transaction. The advisory lock comes first:
     * two nodes running {@code CREATE TABLE IF NOT EXISTS} at once can otherwise both try to create it,
     * and one fails on PostgreSQL's catalog.
     */
    private void migrate() {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("SELECT pg_advisory_xact_lock(" + MIGRATION_LOCK + ")");
                s.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
                int version = 0;
                try (ResultSet rs = s.executeQuery("SELECT max(version) FROM schema_version")) {
                    if (rs.next()) {
                        version = rs.getInt(1);
                    }
                }
                if (version > SCHEMA_VERSION) {
                    throw new SQLException("the database's schema is version " + version
                            + ", newer than this Parley's " + SCHEMA_VERSION + "; upgrade Parley");
                }
                if (version < 1) {
                    // sent_at is ms since the epoch, as StoredMessage.time: exact, and no time zone to mind.
                    s.execute("""
                            CREATE TABLE messages (
                                room        text   NOT NULL,
                                seq         bigint NOT NULL,
                                client_id   text   NOT NULL,
                                sender_user text   NOT NULL,
                                sender_name text   NOT NULL,
                                body        text   NOT NULL,
                                sent_at     bigint NOT NULL,
                                PRIMARY KEY (room, seq)
                            )""");
                    s.execute("CREATE UNIQUE INDEX messages_by_client_id ON messages (room, sender_user, client_id)");
                    s.execute("CREATE TABLE rooms (name text PRIMARY KEY, last_seq bigint NOT NULL)");
                }
                if (version < 2) {
                    // Each room's last message time beside its last seq, for the rooms list: an index walk
                    // of the rooms asked for, not a scan of every message.
                    s.execute("ALTER TABLE rooms ADD COLUMN last_time bigint NOT NULL DEFAULT 0");
                    s.execute("UPDATE rooms SET last_time = m.sent_at FROM messages m "
                            + "WHERE m.room = rooms.name AND m.seq = rooms.last_seq");
                    s.execute("CREATE INDEX rooms_by_time ON rooms (last_time DESC, name)");
                }
                if (version < 3) {
                    // A deleted message keeps its row as a tombstone; rooms.deletions counts a room's
                    // deletions, so that a node can tell from one read that its copy of the room is stale.
                    s.execute("ALTER TABLE messages ADD COLUMN deleted_by text, ADD COLUMN deleted_at bigint NOT NULL DEFAULT 0");
                    s.execute("ALTER TABLE rooms ADD COLUMN deletions bigint NOT NULL DEFAULT 0");
                }
                if (version < SCHEMA_VERSION) {
                    // One row, the version the steps above reached.
                    s.execute("DELETE FROM schema_version");
                    s.execute("INSERT INTO schema_version(version) VALUES (" + SCHEMA_VERSION + ")");
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw failure("migrating the PostgreSQL schema", e);
        }
    }

    @Override
    public RoomTail loadTail(String room, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive, was " + limit);
        }
        try (Connection c = pool.getConnection()) {
            // One snapshot for the three reads, so that they agree with each other.
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            try {
                List<StoredMessage> recent = StoredRows.query(c, NEWEST, room, limit);
                Collections.reverse(recent);
                long last = Math.max(lastSeq(c, room), recent.isEmpty() ? 0 : recent.getLast().seq());
                long first = last + 1;
                try (PreparedStatement ps = c.prepareStatement("SELECT min(seq) FROM messages WHERE room = ?")) {
                    ps.setString(1, room);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next() && rs.getObject(1) != null) {
                            first = rs.getLong(1);
                        }
                    }
                }
                return new RoomTail(last, first, recent);
            } finally {
                c.rollback();
                c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
            }
        } catch (SQLException e) {
            throw failure("loading room " + room, e);
        }
    }

    @Override
    public StoredMessage findSent(String room, String user, String id) {
        try (Connection c = pool.getConnection()) {
            List<StoredMessage> found = StoredRows.query(c,
                    SELECT + "WHERE room = ? AND sender_user = ? AND client_id = ?", room, user, id);
            return found.isEmpty() ? null : found.getFirst();
        } catch (SQLException e) {
            throw failure("looking up message id " + id + " in room " + room, e);
        }
    }

    /**
     * Stores a batch whose seqs the caller assigned (a single node's sequencer), in one transaction, and
     * raises each room's {@code last_seq} to its highest seq in the batch.
     */
    @Override
    public void append(List<StoredMessage> batch) {
        if (batch.isEmpty()) {
            return;
        }
        Map<String, StoredMessage> highest = new TreeMap<>();
        for (StoredMessage m : batch) {
            highest.merge(m.room(), m, (a, b) -> b.seq() > a.seq() ? b : a);
        }
        try (Connection c = pool.getConnection()) {
            inTransaction(c, () -> {
                insert(c, batch);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO rooms(name, last_seq, last_time) "
                        + "VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                        + "last_seq = greatest(rooms.last_seq, excluded.last_seq), "
                        + "last_time = greatest(rooms.last_time, excluded.last_time)")) {
                    for (StoredMessage m : highest.values()) {
                        ps.setString(1, m.room());
                        ps.setLong(2, m.seq());
                        ps.setLong(3, m.time());
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
                return null;
            });
        } catch (SQLException e) {
            throw failure("storing " + batch.size() + " messages", e);
        }
    }

    /**
     * Tombstones in one statement, never past the room's {@code last_seq} as committed: every row at or
     * below it is committed (a room's seqs are committed in order, under its row lock), so a message a
     * node is committing meanwhile is never half in the range. Bumps the room's {@code deletions}.
     */
    @Override
    public List<Long> tombstone(String room, long after, long upTo, String by, long at) {
        try (Connection c = pool.getConnection()) {
            return inTransaction(c, () -> {
                List<Long> seqs = new ArrayList<>();
                try (PreparedStatement ps = c.prepareStatement("UPDATE messages SET body = '', deleted_by = ?, "
                        + "deleted_at = ? WHERE room = ? AND seq > ? AND seq <= least(?, (SELECT last_seq FROM rooms "
                        + "WHERE name = ?)) AND deleted_by IS NULL RETURNING seq")) {
                    ps.setString(1, by);
                    ps.setLong(2, at);
                    ps.setString(3, room);
                    ps.setLong(4, after);
                    ps.setLong(5, upTo);
                    ps.setString(6, room);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            seqs.add(rs.getLong(1));
                        }
                    }
                }
                if (!seqs.isEmpty()) {
                    try (PreparedStatement ps = c.prepareStatement(
                            "UPDATE rooms SET deletions = deletions + 1 WHERE name = ?")) {
                        ps.setString(1, room);
                        ps.executeUpdate();
                    }
                }
                Collections.sort(seqs);
                return seqs;
            });
        } catch (SQLException e) {
            throw failure("deleting messages of room " + room, e);
        }
    }

    @Override
    public void prune(String room, long upTo) {
        try (Connection c = pool.getConnection();
             PreparedStatement ps = c.prepareStatement("DELETE FROM messages WHERE room = ? AND seq <= ?")) {
            ps.setString(1, room);
            ps.setLong(2, upTo);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw failure("deleting old messages of room " + room, e);
        }
    }

    @Override
    public List<StoredMessage> after(String room, long since, long upTo, int limit) {
        return read(SELECT + "WHERE room = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?", false,
                room, since, upTo, limit);
    }

    @Override
    public List<StoredMessage> before(String room, long before, int limit) {
        return read(SELECT + "WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?", true, room, before, limit);
    }

    @Override
    public List<StoredMessage> latest(String room, int limit) {
        return read(NEWEST, true, room, limit);
    }

    /** A message a node wants stored, before it has a seq. */
    public record Draft(String room, String clientId, String user, String from, String text, long time) {
    }

    /**
     * What became of a {@link Draft}: the stored message (with its seq), and whether this call stored
     * it ({@code false}: the same user had already sent this client id to the room, and this is the
     * original).
     */
    public record Sequenced(StoredMessage message, boolean isNew) {
    }

    /**
     * Gives each draft the next seq of its room and stores it, in one transaction, with any number of
     * nodes doing the same at once: the seq every node's store of several nodes agrees on.
     *
     * <p>Each room's {@code rooms} row is locked ({@code SELECT ... FOR UPDATE}) before its seqs are
     * read, and held until commit: every other node writing that room waits, so a room's seqs are
     * committed in their order, without gaps. Rooms are locked in sorted order, so two nodes whose
     * batches share rooms never wait for each other in a cycle. A draft whose {@code (room, user,
     * clientId)} is already stored (a resend through any node), or appears earlier in the same call,
     * comes back as the original, not new, and stores nothing.
     *
     * <p>Returns one result per draft, in the drafts' order. Throws StoreException, having stored
     * nothing, if any of it fails. Any thread.
     */
    public List<Sequenced> sequence(List<Draft> drafts) {
        if (drafts.isEmpty()) {
            return List.of();
        }
        Map<String, List<Integer>> byRoom = new TreeMap<>();
        for (int i = 0; i < drafts.size(); i++) {
            byRoom.computeIfAbsent(drafts.get(i).room(), r -> new ArrayList<>()).add(i);
        }
        try (Connection c = pool.getConnection()) {
            return inTransaction(c, () -> {
                Sequenced[] out = new Sequenced[drafts.size()];
                List<StoredMessage> fresh = new ArrayList<>();
                Map<String, StoredMessage> last = new LinkedHashMap<>();
                for (Map.Entry<String, List<Integer>> e : byRoom.entrySet()) {
                    String room = e.getKey();
                    long seq = lockRoom(c, room);
                    StoredMessage newest = null;
                    Map<List<String>, StoredMessage> known = storedAlready(c, room, drafts, e.getValue());
                    for (int i : e.getValue()) {
                        Draft d = drafts.get(i);
                        List<String> key = List.of(d.user(), d.clientId());
                        StoredMessage original = known.get(key);
                        if (original != null) {
                            out[i] = new Sequenced(original, false);
                            continue;
                        }
                        StoredMessage m = new StoredMessage(room, ++seq, d.clientId(), d.user(), d.from(),
                                d.text(), d.time());
                        known.put(key, m);
                        fresh.add(m);
                        newest = m;
                        out[i] = new Sequenced(m, true);
                    }
                    if (newest != null) {
                        last.put(room, newest);
                    }
                }
                insert(c, fresh);
                try (PreparedStatement ps = c.prepareStatement(
                        "UPDATE rooms SET last_seq = ?, last_time = greatest(last_time, ?) WHERE name = ?")) {
                    for (StoredMessage m : last.values()) {
                        ps.setLong(1, m.seq());
                        ps.setLong(2, m.time());
                        ps.setString(3, m.room());
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
                return List.of(out);
            });
        } catch (SQLException e) {
            throw failure("sequencing " + drafts.size() + " messages", e);
        }
    }

    @Override
    public List<RoomActivity> rooms(int limit) {
        try (Connection c = pool.getConnection()) {
            // A row at last_seq 0 has no message to show (lockRoom makes one before numbering any).
            return StoredRows.rooms(c, "WHERE last_seq > 0", limit);
        } catch (SQLException e) {
            throw failure("listing rooms", e);
        }
    }

    /** A room's highest seq as committed (0 for a room never written). Any thread. */
    public long lastSeq(String room) {
        try (Connection c = pool.getConnection()) {
            return lastSeq(c, room);
        } catch (SQLException e) {
            throw failure("reading the last seq of room " + room, e);
        }
    }

    /**
     * The committed last seq of each of {@code rooms} that has ever been written (others are left out),
     * in one query: how a node of several notices a message it was never told of. Any thread.
     */
    public Map<String, Long> lastSeqs(Collection<String> rooms) {
        return perRoom(rooms, "last_seq", "reading the last seqs of ");
    }

    /**
     * How many deletions each of {@code rooms} has had ({@link #tombstone}), in one query: how a node
     * notices a deletion whose notice it lost. Any thread.
     */
    public Map<String, Long> deletions(Collection<String> rooms) {
        return perRoom(rooms, "deletions", "reading the deletion counts of ");
    }

    /** One {@code rooms} column of each of {@code rooms} that has a row. */
    private Map<String, Long> perRoom(Collection<String> rooms, String column, String what) {
        if (rooms.isEmpty()) {
            return Map.of();
        }
        try (Connection c = pool.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT name, " + column + " FROM rooms WHERE name = ANY(?)")) {
            ps.setArray(1, c.createArrayOf("text", rooms.toArray()));
            Map<String, Long> out = new HashMap<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getLong(2));
                }
            }
            return out;
        } catch (SQLException e) {
            throw failure(what + rooms.size() + " rooms", e);
        }
    }

    /** Creates the room's row if it is new, locks it until commit, and returns its last seq. */
    private static long lockRoom(Connection c, String room) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO rooms(name, last_seq) VALUES (?, 0) ON CONFLICT (name) DO NOTHING")) {
            ps.setString(1, room);
            ps.executeUpdate();
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT last_seq FROM rooms WHERE name = ? FOR UPDATE")) {
            ps.setString(1, room);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("room " + room + " has no row after it was created");
                }
                return rs.getLong(1);
            }
        }
    }

    /** The messages already stored under these drafts' (user, client id) in the room, in one query. */
    private static Map<List<String>, StoredMessage> storedAlready(Connection c, String room, List<Draft> drafts,
                                                                 List<Integer> indexes) throws SQLException {
        String[] users = new String[indexes.size()];
        String[] ids = new String[indexes.size()];
        for (int k = 0; k < indexes.size(); k++) {
            users[k] = drafts.get(indexes.get(k)).user();
            ids[k] = drafts.get(indexes.get(k)).clientId();
        }
        Array userArray = c.createArrayOf("text", users);
        Array idArray = c.createArrayOf("text", ids);
        Map<List<String>, StoredMessage> found = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(STORED_ALREADY)) {
            ps.setArray(1, userArray);
            ps.setArray(2, idArray);
            ps.setString(3, room);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    StoredMessage m = StoredRows.row(rs);
                    found.put(List.of(m.user(), m.id()), m);
                }
            }
        } finally {
            userArray.free();
            idArray.free();
        }
        return found;
    }

    private static long lastSeq(Connection c, String room) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT last_seq FROM rooms WHERE name = ?")) {
            ps.setString(1, room);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    private static void insert(Connection c, List<StoredMessage> messages) throws SQLException {
        if (messages.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(INSERT)) {
            for (StoredMessage m : messages) {
                ps.setString(1, m.room());
                ps.setLong(2, m.seq());
                ps.setString(3, m.id());
                ps.setString(4, m.user());
                ps.setString(5, m.from());
                ps.setString(6, m.text());
                ps.setLong(7, m.time());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private interface Work<T> {
        T run() throws SQLException;
    }

    /** Runs {@code work} as one transaction: committed when it returns, rolled back when it throws. */
    private static <T> T inTransaction(Connection c, Work<T> work) throws SQLException {
        c.setAutoCommit(false);
        T result;
        try {
            result = work.run();
            c.commit();
        } catch (SQLException | RuntimeException e) {
            try {
                c.rollback();
            } catch (SQLException suppressed) {
                // The connection is likely broken and the pool drops it; the first error is the one to tell.
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        // On failure HikariCP restores auto-commit when the connection goes back, or drops it if broken.
        c.setAutoCommit(true);
        return result;
    }

    /**
     * The error to tell. A failed batch's BatchUpdateException spells out every row of the batch, the
     * messages' text included; the reason (a broken key, a lost connection) is the exception it chains.
     */
    private static StoreException failure(String what, SQLException e) {
        SQLException reason = e instanceof BatchUpdateException && e.getNextException() != null
                ? e.getNextException() : e;
        return new StoreException(what, reason);
    }

    private List<StoredMessage> read(String sql, boolean newestFirst, Object... args) {
        try (Connection c = pool.getConnection()) {
            List<StoredMessage> rows = StoredRows.query(c, sql, args);
            if (newestFirst) {
                Collections.reverse(rows);
            }
            return rows;
        } catch (SQLException e) {
            throw failure("reading history of room " + args[0], e);
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}
