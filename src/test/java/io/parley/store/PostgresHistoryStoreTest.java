package io.parley.store;

import io.parley.testing.PostgresProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The {@link HistoryStore} contract, held by the PostgreSQL store on a real PostgreSQL (one server for
 * the class, a fresh database per test), and what only the PostgreSQL store does: its schema, its
 * migration when several nodes start at once, and {@code rooms.last_seq}.
 */
class PostgresHistoryStoreTest extends HistoryStoreContract {

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
    protected HistoryStore openStore() {
        return PostgresHistoryStore.open(PostgresUrl.parse(url));
    }

    @Test
    void severalNodesStartingAtOnceMigrateOnceAndAllStart() throws Exception {
        int nodes = 6;
        ExecutorService threads = Executors.newFixedThreadPool(nodes);
        List<Future<PostgresHistoryStore>> starts = new ArrayList<>();
        try {
            for (int i = 0; i < nodes; i++) {
                starts.add(threads.submit((Callable<PostgresHistoryStore>)
                        () -> PostgresHistoryStore.open(PostgresUrl.parse(url))));
            }
            for (Future<PostgresHistoryStore> f : starts) {
                f.get(60, TimeUnit.SECONDS).close();
            }
        } finally {
            threads.shutdownNow();
        }
        try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version FROM schema_version")) {
            List<Integer> versions = new ArrayList<>();
            while (rs.next()) {
                versions.add(rs.getInt(1));
            }
            assertThat(versions).containsExactly(PostgresHistoryStore.SCHEMA_VERSION);
        }
    }

    @Test
    void aVersionOneDatabaseGetsItsRoomsListedAfterTheUpgrade() throws Exception {
        try (HistoryStore s = openStore()) {
            s.append(messages("lobby", 1, 4));
            s.append(messages("other", 1, 7));
        }
        // What version 1 had: rooms without last_time, messages without tombstones.
        try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement()) {
            s.execute("DROP INDEX rooms_by_time");
            s.execute("ALTER TABLE rooms DROP COLUMN last_time, DROP COLUMN deletions");
            s.execute("ALTER TABLE messages DROP COLUMN deleted_by, DROP COLUMN deleted_at");
            s.execute("UPDATE schema_version SET version = 1");
        }
        try (HistoryStore s = openStore()) {
            assertThat(s.rooms(10)).containsExactly(
                    new HistoryStore.RoomActivity("other", 7, message("other", 7).time()),
                    new HistoryStore.RoomActivity("lobby", 4, message("lobby", 4).time()));
            assertThat(s.tombstone("lobby", 0, 1, "mod-1", 1000)).containsExactly(1L);
        }
    }

    /** A database made by a Parley with the rooms list but before tombstones (version 2) gets them. */
    @Test
    void aVersionTwoDatabaseGetsTombstonesAfterTheUpgrade() throws Exception {
        try (HistoryStore s = openStore()) {
            s.append(messages("lobby", 1, 4));
        }
        try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement()) {
            s.execute("ALTER TABLE rooms DROP COLUMN deletions");
            s.execute("ALTER TABLE messages DROP COLUMN deleted_by, DROP COLUMN deleted_at");
            s.execute("UPDATE schema_version SET version = 2");
        }
        try (HistoryStore s = openStore()) {
            assertThat(s.tombstone("lobby", 1, 3, "mod-1", 1000)).containsExactly(2L, 3L);
            assertThat(s.rooms(10)).containsExactly(
                    new HistoryStore.RoomActivity("lobby", 4, message("lobby", 4).time()));
        }
        try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT version FROM schema_version")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(1)).isEqualTo(3);
        }
    }

    @Test
    void aDatabaseOfANewerSchemaIsRefusedAtStart() throws Exception {
        openStore().close();
        try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement()) {
            s.execute("UPDATE schema_version SET version = " + (PostgresHistoryStore.SCHEMA_VERSION + 1));
        }
        assertThatThrownBy(this::openStore).isInstanceOf(StoreException.class).hasMessageContaining("newer");
    }

    @Test
    void appendKeepsEachRoomsLastSeqAtItsHighestSeq() throws Exception {
        try (PostgresHistoryStore s = PostgresHistoryStore.open(PostgresUrl.parse(url))) {
            s.append(messages("a", 1, 3));
            s.append(List.of(message("a", 4), message("b", 1), message("a", 5)));
            assertThat(s.lastSeq("a")).isEqualTo(5);
            assertThat(s.lastSeq("b")).isEqualTo(1);
            assertThat(s.lastSeq("never")).isZero();
            s.prune("a", 5);
            // Every message of the room deleted: the room still continues after 5, not from 1.
            assertThat(s.loadTail("a", 10)).isEqualTo(new HistoryStore.RoomTail(5, 6, List.of()));
        }
        try (Connection c = PostgresProcess.connect(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT name, last_seq FROM rooms ORDER BY name")) {
            List<String> rows = new ArrayList<>();
            while (rs.next()) {
                rows.add(rs.getString(1) + "=" + rs.getLong(2));
            }
            assertThat(rows).containsExactly("a=5", "b=1");
        }
    }

    @Test
    void theDatabaseRefusesASecondMessageWithTheSameClientId() {
        try (HistoryStore s = openStore()) {
            s.append(List.of(message("lobby", 1)));
            StoredMessage again = new StoredMessage("lobby", 2, "id-1", "guest:ann", "ann", "again", 2);
            assertThatThrownBy(() -> s.append(List.of(again))).isInstanceOf(StoreException.class);
            assertThat(s.latest("lobby", 10)).containsExactly(message("lobby", 1));
        }
    }
}
