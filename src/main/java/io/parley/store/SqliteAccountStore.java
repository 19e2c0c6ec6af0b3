package io.parley.store;

import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Accounts in the SQLite file {@code parley.db} of the data directory, beside the history (whose
 * connections are the history store's own). The server and {@code parley user} may use the file at
 * once: a write waits up to the busy timeout for the other's lock, and transactions take the write
 * lock when they begin ({@code BEGIN IMMEDIATE}), so two writers wait for each other instead of one
 * failing at once on a lock upgrade.
 *
 * <p>Threads: any; calls take turns on one connection (an account call is a few index lookups, and
 * SQLite has one writer anyway). A caller waits for its turn at most the busy timeout.
 */
final class SqliteAccountStore extends SqlAccountStore {

    private final Connection connection;
    private final BlockingQueue<Connection> turn = new ArrayBlockingQueue<>(1);
    private final long busyTimeoutMillis;

    private SqliteAccountStore(Connection connection, long busyTimeoutMillis) {
        this.connection = connection;
        this.busyTimeoutMillis = busyTimeoutMillis;
        turn.add(connection);
    }

    static SqliteAccountStore open(Path dataDir, Duration busyTimeout) {
        Path file = dataDir.resolve("parley.db").toAbsolutePath();
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setBusyTimeout((int) Math.min(Integer.MAX_VALUE, busyTimeout.toMillis()));
        config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        try {
            Files.createDirectories(dataDir);
            Connection c = config.createConnection("jdbc:sqlite:" + file);
            SqliteAccountStore store = new SqliteAccountStore(c, busyTimeout.toMillis());
            try {
                store.migrate();
            } catch (RuntimeException e) {
                c.close();
                throw e;
            }
            return store;
        } catch (IOException | SQLException e) {
            throw new StoreException("opening the accounts in " + file, e);
        }
    }

    @Override
    Connection borrow() throws SQLException {
        try {
            Connection c = turn.poll(Math.max(busyTimeoutMillis, 1), TimeUnit.MILLISECONDS);
            if (c == null) {
                throw new SQLException("the accounts connection stayed busy for " + busyTimeoutMillis + " ms");
            }
            return c;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted waiting for the accounts connection", e);
        }
    }

    @Override
    void release(Connection c) {
        turn.add(c);
    }

    @Override
    boolean uniqueViolation(SQLException e) {
        return e instanceof SQLiteException s && (s.getResultCode() == SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE
                || s.getResultCode() == SQLiteErrorCode.SQLITE_CONSTRAINT_PRIMARYKEY);
    }

    @Override
    String generatedKey() {
        // The rowid: numbered past the highest in use, so a log that is only appended to grows.
        return "INTEGER PRIMARY KEY";
    }

    @Override
    void beforeMigrate(Statement s) {
        // One process at a time already: the IMMEDIATE transaction holds the write lock.
    }

    @Override
    public void close() {
        try {
            connection.close();
        } catch (SQLException e) {
            throw new StoreException("closing the accounts", e);
        }
    }
}
