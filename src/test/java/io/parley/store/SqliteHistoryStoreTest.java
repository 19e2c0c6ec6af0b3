package io.parley.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
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

    @Test
    void aVersionTwoFileGetsItsRoomsListedAfterTheUpgrade() throws Exception {
        // A file as version 2 left it: messages, no rooms table.
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve("parley.db"));
             Statement s = c.createStatement()) {
            versionTwoMessages(s);
            s.execute("INSERT INTO messages VALUES ('lobby', 1, 'a', 'ann', 'x', 100, 'guest:ann'), "
                    + "('lobby', 2, 'b', 'ann', 'y', 300, 'guest:ann'), ('other', 1, 'c', 'ann', 'z', 200, 'guest:ann')");
            s.execute("PRAGMA user_version = 2");
        }
        try (HistoryStore s = openStore()) {
            assertThat(s.rooms(10)).containsExactly(new HistoryStore.RoomActivity("lobby", 2, 300),
                    new HistoryStore.RoomActivity("other", 1, 200));
        }
    }

    /** A file made by a Parley with the rooms list but before tombstones (version 3) gets them. */
    @Test
    void aVersionThreeFileGetsTombstonesAfterTheUpgrade() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve("parley.db"));
             Statement s = c.createStatement()) {
            versionTwoMessages(s);
            s.execute("CREATE TABLE rooms (name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, "
                    + "last_time INTEGER NOT NULL) WITHOUT ROWID");
            s.execute("CREATE INDEX rooms_by_time ON rooms(last_time DESC, name)");
            s.execute("INSERT INTO messages VALUES ('lobby', 1, 'a', 'ann', 'x', 100, 'guest:ann'), "
                    + "('lobby', 2, 'b', 'ann', 'y', 300, 'guest:ann')");
            s.execute("INSERT INTO rooms VALUES ('lobby', 2, 300)");
            s.execute("PRAGMA user_version = 3");
        }
        try (HistoryStore s = openStore()) {
            assertThat(s.tombstone("lobby", 0, 1, "mod-1", 1000)).containsExactly(1L);
            assertThat(s.rooms(10)).containsExactly(new HistoryStore.RoomActivity("lobby", 2, 300));
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve("parley.db"));
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("PRAGMA user_version")) {
            assertThat(rs.getInt(1)).isEqualTo(4);
        }
    }

    /** The messages table as schema version 2 left it: no tombstone columns. */
    private static void versionTwoMessages(Statement s) throws SQLException {
        s.execute("CREATE TABLE messages (room TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, "
                + "sender TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL, user TEXT NOT NULL DEFAULT '', "
                + "PRIMARY KEY (room, seq)) WITHOUT ROWID");
        s.execute("CREATE INDEX messages_by_id ON messages(room, user, id)");
    }
}
