package io.parley.store;

import com.zaxxer.hikari.HikariDataSource;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Accounts in PostgreSQL ({@code --postgres-url}), beside the history: the store every node shares, so
 * an account added on one node (or by {@code parley user add}) signs in on all of them.
 *
 * <p>Threads: any; each call borrows one of {@value #POOL_SIZE} pooled connections (its own pool, with
 * the history store's timeouts), so sign-ins never wait behind the sequencer's writes.
 */
final class PostgresAccountStore extends SqlAccountStore {

    /** The account workers' threads (see {@code Accounts}) and the name refresher. */
    static final int POOL_SIZE = 3;
    /** Another key than the history's: the two migrations may run at once without waiting for each other. */
    private static final long MIGRATION_LOCK = 0x7061726c6579_01L;

    private final HikariDataSource pool;

    private PostgresAccountStore(HikariDataSource pool) {
        this.pool = pool;
    }

    static PostgresAccountStore open(PostgresUrl url) {
        HikariDataSource pool = PostgresHistoryStore.pool(url, "parley-accounts", POOL_SIZE);
        try {
            PostgresAccountStore store = new PostgresAccountStore(pool);
            store.migrate();
            return store;
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    @Override
    Connection borrow() throws SQLException {
        return pool.getConnection();
    }

    @Override
    void release(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            // The pool drops a connection it cannot take back; nothing was lost.
        }
    }

    @Override
    boolean uniqueViolation(SQLException e) {
        return "23505".equals(e.getSQLState());
    }

    @Override
    String generatedKey() {
        return "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY";
    }

    @Override
    void beforeMigrate(Statement s) throws SQLException {
        // Nodes starting at once: CREATE TABLE IF NOT EXISTS is not safe to run concurrently.
        s.execute("SELECT pg_advisory_xact_lock(" + MIGRATION_LOCK + ")");
    }

    @Override
    public void close() {
        pool.close();
    }
}
