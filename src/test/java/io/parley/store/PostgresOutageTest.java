package io.parley.store;

import io.parley.testing.PostgresProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * PostgreSQL goes away under a running store (killed as a crash would) and comes back: every call in
 * between fails fast with StoreException instead of hanging the engine's sequencer, and the same
 * store works again, with everything committed before, once PostgreSQL is back. This class kills its
 * own server, so it shares it with no other class; its tests share it, each with its own database,
 * and each starts it again if the one before left it stopped.
 */
class PostgresOutageTest {

    /** The brief's bound for a call against a PostgreSQL that is down (the pool's timeout is 2 s). */
    private static final Duration FAIL_FAST = Duration.ofSeconds(3);

    private static PostgresProcess postgres;
    private PostgresHistoryStore store;

    @BeforeAll
    static void launch() {
        assumeTrue(PostgresProcess.unavailableReason() == null, PostgresProcess.unavailableReason());
        postgres = PostgresProcess.launch();
    }

    @AfterAll
    static void close() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @BeforeEach
    void start() {
        postgres.start();
        store = PostgresHistoryStore.open(PostgresUrl.parse(postgres.createDatabase()));
    }

    @AfterEach
    void stop() {
        if (store != null) {
            store.close();
        }
    }

    @Test
    void callsFailFastWhilePostgresIsDownAndWorkAgainWhenItIsBack() throws Exception {
        store.append(HistoryStoreContract.messages("lobby", 1, 3));

        postgres.stop();
        // The first call meets the pooled connection PostgreSQL broke; the others then wait for one the
        // pool cannot open. Those four run at once, each timed on its own: one after another they took
        // the pool's 2 s each.
        assertFailsFast("append", () -> store.append(List.of(HistoryStoreContract.message("lobby", 4))));
        Map<String, Executable> calls = new LinkedHashMap<>();
        calls.put("latest", () -> store.latest("lobby", 10));
        calls.put("findSent", () -> store.findSent("lobby", "guest:ann", "id-1"));
        calls.put("loadTail", () -> store.loadTail("lobby", 10));
        calls.put("sequence", () -> store.sequence(List.of(
                new PostgresHistoryStore.Draft("lobby", "x", "guest:ann", "ann", "hi", 1))));
        try (ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> running = new ArrayList<>();
            calls.forEach((call, work) -> running.add(callers.submit(() -> assertFailsFast(call, work))));
            for (Future<?> f : running) {
                try {
                    f.get(20, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    throw e.getCause() instanceof AssertionError a ? a : new AssertionError(e.getCause());
                } catch (TimeoutException e) {
                    throw new AssertionError("a call against a PostgreSQL that is down still runs after 20 s", e);
                }
            }
        }

        postgres.start();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        List<StoredMessage> seen = null;
        while (seen == null) {
            try {
                seen = store.latest("lobby", 10);
            } catch (StoreException e) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("the store did not recover within 20 s after PostgreSQL came back", e);
                }
                Thread.sleep(50);
            }
        }
        assertThat(seen).isEqualTo(HistoryStoreContract.messages("lobby", 1, 3));
        store.append(List.of(HistoryStoreContract.message("lobby", 4)));
        assertThat(store.loadTail("lobby", 10).lastSeq()).isEqualTo(4);
        assertThat(store.sequence(List.of(new PostgresHistoryStore.Draft("lobby", "x", "guest:ann", "ann", "hi", 1)))
                .getFirst().message().seq()).isEqualTo(5);
    }

    @Test
    void aStoreCannotOpenWhilePostgresIsDownAndSaysWhere() {
        String url = postgres.createDatabase();
        postgres.stop();
        long start = System.nanoTime();
        assertThatThrownBy(() -> PostgresHistoryStore.open(PostgresUrl.parse(url)))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("127.0.0.1:" + postgres.port())
                .hasMessageNotContaining(PostgresProcess.PASSWORD);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(FAIL_FAST);
    }

    /**
     * PostgreSQL up but a room's row held by a node that hangs mid-transaction: a call waiting for it
     * gives up at the statement timeout, stores nothing, and works once the row is free.
     */
    @Test
    void aCallWaitingForARowAStuckNodeHoldsGivesUpAtTheStatementTimeout() throws Exception {
        String url = postgres.createDatabase();
        try (PostgresHistoryStore node = PostgresHistoryStore.open(PostgresUrl.parse(url));
             Connection stuck = PostgresProcess.connect(url)) {
            PostgresHistoryStore.Draft hello = new PostgresHistoryStore.Draft("lobby", "x", "guest:ann", "ann", "hi", 1);
            node.sequence(List.of(new PostgresHistoryStore.Draft("lobby", "w", "guest:ann", "ann", "warm", 1)));
            stuck.setAutoCommit(false);
            try (Statement s = stuck.createStatement()) {
                s.execute("SELECT * FROM rooms WHERE name = 'lobby' FOR UPDATE");
            }
            long start = System.nanoTime();
            assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
                    assertThatThrownBy(() -> node.sequence(List.of(hello))).isInstanceOf(StoreException.class)
                            .hasMessageContaining("statement timeout"));
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(took).isBetween(Duration.ofMillis(PostgresHistoryStore.STATEMENT_TIMEOUT_MS - 500),
                    Duration.ofMillis(PostgresHistoryStore.STATEMENT_TIMEOUT_MS + 3000));
            stuck.rollback();
            assertThat(node.sequence(List.of(hello)).getFirst().message().seq()).isEqualTo(2);
        }
    }

    private static void assertFailsFast(String call, Executable work) {
        long start = System.nanoTime();
        assertThatThrownBy(work::execute).as(call).isInstanceOf(StoreException.class);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        System.out.println("PostgresOutageTest: " + call + " failed after " + took.toMillis() + " ms");
        assertThat(took).as("%s against a PostgreSQL that is down", call).isLessThan(FAIL_FAST);
    }
}
