package io.parley.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.parley.bench.MetricsReader;
import io.parley.engine.cluster.RedisAddress;
import io.parley.store.PostgresUrl;
import io.parley.testing.NodeServices;
import io.parley.testing.PostgresProcess;
import io.parley.testing.RedisProcess;
import io.parley.testing.TestServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code parley bench} over three nodes sharing one room through a real Redis and a real PostgreSQL:
 * members are spread over the nodes in turn, publishers too, so most deliveries cross a node; the run
 * counts every delivery at every member, and the report says what each node carried.
 */
class BenchSeveralNodesTest {

    private static final int NODES = 3;

    private static NodeServices services;
    private static PostgresProcess postgres;
    private static RedisProcess redis;

    @TempDir
    Path dir;

    @BeforeAll
    static void startServices() throws Exception {
        services = NodeServices.start();
        postgres = services.postgres();
        redis = services.redis();
    }

    @AfterAll
    static void stopServices() {
        if (services != null) {
            services.close();
        }
    }

    @Test
    void spreadsMembersOverTheNodesAndCountsEveryDeliveryAcrossThem() throws Exception {
        String database = postgres.createDatabase();
        List<TestServer> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < NODES; i++) {
                nodes.add(TestServer.start(dir.resolve("node" + i), c -> TestServer.UNTHROTTLED.apply(c)
                        .withPostgres(PostgresUrl.parse(database))
                        .withRedis(RedisAddress.parse(redis.url()))));
            }
            StringWriter out = new StringWriter();
            StringWriter progress = new StringWriter();

            // 30 subscribers then 3 publishers, joining through node 0, 1, 2, 0, ...: 11 members a node,
            // one publisher on each. One --url repeated, two in a comma list: both forms count.
            int exit = ParleyCommand.commandLine()
                    .setOut(new PrintWriter(out))
                    .setErr(new PrintWriter(progress))
                    .execute("bench", "--url", nodes.get(0).chatUri().toString(),
                            "--url", nodes.get(1).chatUri() + "," + nodes.get(2).chatUri(),
                            "--subscribers", "30", "--publishers", "3", "--rate", "150", "--duration", "2",
                            "--warmup", "1", "--drain", "15");

            String report = out.toString();
            assertThat(exit).as(report + progress).isZero();
            assertThat(report).contains("sent 450, acked 450, rejected 0")
                    .contains("expected 14850 (450 taken x 33 members")
                    .contains("delivered 14850, lost 0")
                    .contains("33 members checked every seq: 0 missing, 0 out of order;"
                            + " each counted 450 to 450 deliveries (450 due)")
                    .contains("summed over the 3 nodes")
                    .contains("result       PASS");
            for (TestServer node : nodes) {
                assertThat(report).as(report).contains("node         " + node.chatUri()
                        + ": 11 members, 4950 deliveries (33%)");
                // The node itself says it delivered them: the spread is real on the servers' side too.
                try (MetricsReader metrics = new MetricsReader(node.httpUri("/metrics"))) {
                    assertThat(metrics.read().get(MetricsReader.DELIVERIES)).as(node.chatUri().toString())
                            .isGreaterThanOrEqualTo(4950.0);
                }
            }
            assertThat(number(report, "server cost .*, ([0-9.,]+) µs CPU")).isPositive();
            assertThat(number(report, "([0-9]+) messages acknowledged/s")).isPositive();
        } finally {
            for (TestServer node : nodes) {
                node.close();
            }
        }
    }

    @Test
    void chatTalksToOneServerOnly() {
        StringWriter err = new StringWriter();

        int exit = ParleyCommand.commandLine()
                .setOut(new PrintWriter(new StringWriter()))
                .setErr(new PrintWriter(err))
                .execute("chat", "--url", "ws://127.0.0.1:1/chat,ws://127.0.0.1:2/chat");

        assertThat(exit).isEqualTo(2);
        assertThat(err.toString()).contains("--url names one server here, was 2");
    }

    private static double number(String text, String pattern) {
        Matcher matcher = Pattern.compile(pattern).matcher(text);
        assertThat(matcher.find()).as("%s in%n%s", pattern, text).isTrue();
        return Double.parseDouble(matcher.group(1).replace(",", ""));
    }
}
