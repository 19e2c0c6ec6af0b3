package io.parley.store;

import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** The {@link HistoryStore} contract, held by the embedded SQLite store. */
class SqliteHistoryStoreTest extends HistoryStoreContract {

    @TempDir
    Path dataDir;

    @Override
    protected HistoryStore openStore() {
        return HistoryStore.openSqlite(dataDir, false);
    }
}
