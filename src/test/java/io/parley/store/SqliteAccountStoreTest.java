package io.parley.store;

import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

/** The {@link AccountStore} contract on SQLite, in a temporary data directory. */
class SqliteAccountStoreTest extends AccountStoreContract {

    @TempDir
    Path dir;

    @Override
    protected AccountStore openStore() {
        return AccountStore.openSqlite(dir, Duration.ofSeconds(5));
    }
}
