package io.parley.store;

import io.parley.testing.PostgresProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The {@link AccountStore} contract on a real PostgreSQL: one server for the class, a fresh database per test. */
class PostgresAccountStoreTest extends AccountStoreContract {

    private static PostgresProcess postgres;
    private String url;

    @BeforeAll
    static void startPostgres() {
        assumeTrue(PostgresProcess.unavailableReason() == null, PostgresProcess.unavailableReason());
        postgres = PostgresProcess.launch();
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @BeforeEach
    void freshDatabase() {
        url = postgres.createDatabase();
    }

    @Override
    protected AccountStore openStore() {
        return AccountStore.openPostgres(PostgresUrl.parse(url));
    }
}
