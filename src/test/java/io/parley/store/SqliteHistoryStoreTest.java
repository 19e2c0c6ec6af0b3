package io.parley.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The {@link HistoryStore} contract, held by the embedded SQLite store. */
class SqliteHistoryStoreTest extends HistoryStoreContract {

    @TempDir
    Path dataDir;

    @Override
    protected HistoryStore openStore() {
        return HistoryStore.openSqlite(dataDir, false);
    }

    /**
     * The accounts (and the audit log of a deletion) write to the same file on their own connection. A
     * deletion that comes while such a write holds the lock waits for it and then succeeds: it must not
     * have read the file first, or SQLite refuses its write at once once the other commits
     * (SQLITE_BUSY_SNAPSHOT; seen as a clear answered store_unavailable).
     */
    @Test
    void aDeletionWaitsForAnotherConnectionsWriteToTheFileAndThenSucceeds() throws Exception {
        try (HistoryStore store = openStore();
             Connection other = DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve("parley.db"))) {
            store.append(messages("lobby", 1, 3));
            try (Statement s = other.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS elsewhere (x INTEGER)");
                s.execute("BEGIN IMMEDIATE");
                s.execute("INSERT INTO elsewhere VALUES (1)");
                CompletableFuture<List<Long>> deleted = CompletableFuture.supplyAsync(
                        () -> store.tombstone("lobby", 0, 2, "mod-1", 1000));
                Thread.sleep(300);
                assertThat(deleted).as("waiting for the other write's lock").isNotDone();
                s.execute("COMMIT");
                assertThat(deleted.get(10, TimeUnit.SECONDS)).containsExactly(1L, 2L);
            }
        }
    }
}
