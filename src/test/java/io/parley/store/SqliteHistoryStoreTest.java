package io.parley.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;

import static org.assertj.core.api.Assertions.assertThat;

/** The {@link HistoryStore} contract, held by the embedded SQLite store. */
class SqliteHistoryStoreTest extends HistoryStoreContract {

    @TempDir
    Path dataDir;

    @Override
    protected HistoryStore openStore() {
        return HistoryStore.openSqlite(dataDir, false);
    }

    @Test
    void aVersionTwoFileGetsItsRoomsListedAfterTheUpgrade() throws Exception {
        // A file as version 2 left it: messages, no rooms table.
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve("parley.db"));
             Statement s = c.createStatement()) {
            s.execute("CREATE TABLE messages (room TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, "
                    + "sender TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL, user TEXT NOT NULL DEFAULT '', "
                    + "PRIMARY KEY (room, seq)) WITHOUT ROWID");
            s.execute("CREATE INDEX messages_by_id ON messages(room, user, id)");
            s.execute("INSERT INTO messages VALUES ('lobby', 1, 'a', 'ann', 'x', 100, 'guest:ann'), "
                    + "('lobby', 2, 'b', 'ann', 'y', 300, 'guest:ann'), ('other', 1, 'c', 'ann', 'z', 200, 'guest:ann')");
            s.execute("PRAGMA user_version = 2");
        }
        try (HistoryStore s = openStore()) {
            assertThat(s.rooms(10)).containsExactly(new HistoryStore.RoomActivity("lobby", 2, 300),
                    new HistoryStore.RoomActivity("other", 1, 200));
        }
    }
}
