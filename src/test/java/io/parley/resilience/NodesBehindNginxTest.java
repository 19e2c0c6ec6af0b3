package io.parley.resilience;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.testing.NginxProcess;
import io.parley.testing.PostgresProcess;
import io.parley.testing.RedisProcess;
import io.parley.testing.ServeProcess;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * docs/OPERATIONS.md's "Several nodes behind nginx", run as written: a real PostgreSQL, a real Redis,
 * three {@code parley serve} processes with the documented flags, and a real nginx running the
 * documented configuration ({@link NginxProcess} reads it out of the document). Every client talks to
 * nginx only, over TLS, and nginx spreads them round-robin, with no sticky sessions:
 * <ul>
 *   <li>clients land on every node (each node's {@code parley_connections} gauge says which);</li>
 *   <li>they share one room: every client gets every message, in one seq order;</li>
 *   <li>long polls held on nodes are answered by a send through another node;</li>
 *   <li>a node killed with SIGKILL: a long poll held on it is passed on by nginx to a live node and
 *       answered there; its clients are disconnected by nginx, reconnect through it to a live node,
 *       join with {@code since}, resend what got no ack with the same id, and in the end every client
 *       has seen every stored message exactly once, in order, equal to PostgreSQL's.</li>
 * </ul>
 */
class NodesBehindNginxTest {

    private static final String ROOM = "hall";
    private static final String LOBBY = "lobby";
    private static final int NODES = 3;
    private static final int CLIENTS = 6;
    private static final int SENDS_EACH = 5;
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Pattern WEBSOCKETS =
            Pattern.compile("(?m)^parley_connections\\{[^}]*transport=\"websocket\"[^}]*}\\s+(\\S+)");
    private static final Pattern HTTP_REQUESTS = Pattern.compile("(?m)^parley_http_requests_total(?:\\{[^}]*})?\\s+(\\S+)");

    @TempDir
    Path dir;

    private final HttpClient direct = HttpClient.newHttpClient();
    private final List<ServeProcess> nodes = new ArrayList<>();
    private final Set<Integer> dead = new HashSet<>();

    /** One chat client as the test sees it: its socket through nginx, its node, and all it was handed. */
    private final class Client {
        final String name;
        WsClient socket;
        int node;
        /** seq -> id of every message of the room it got, from joins and live; a repeat fails at once. */
        final TreeMap<Long, String> seen = new TreeMap<>();
        final Map<String, Long> acks = new LinkedHashMap<>();

        Client(String name) {
            this.name = name;
        }

        void connect(NginxProcess nginx) throws Exception {
            int[] before = webSockets();
            try {
                socket = WsClient.connect(nginx.client(), nginx.chatUri());
            } catch (CompletionException e) {
                if (e.getCause() instanceof WebSocketHandshakeException refused) {
                    throw new AssertionError(name + "'s WebSocket handshake through nginx was answered "
                            + refused.getResponse().statusCode() + " " + refused.getResponse().body(), e);
                }
                throw e;
            }
            socket.send(Map.of("type", "hello", "name", name));
            socket.expect("welcome");
            node = landedOn(before);
        }

        void record(JsonNode m) {
            switch (m.path("type").asText()) {
                case "message" -> {
                    if (ROOM.equals(m.path("room").asText())) {
                        String before = seen.put(m.path("seq").asLong(), m.path("id").asText());
                        assertThat(before).as("%s got seq %s a second time", name, m.path("seq")).isNull();
                    }
                }
                case "ack" -> acks.put(m.path("id").asText(), m.path("seq").asLong());
                case "error" -> throw new AssertionError(name + " was refused: " + m);
                default -> { }
            }
        }

        /** Joins the room (from {@code since} when not null), recording the history the reply carries. */
        void join(Long since) {
            JsonNode joined = since == null ? socket.join(ROOM) : socket.join(ROOM, since);
            if (since != null) {
                assertThat(joined.path("recovered").asBoolean()).as("%s's join from %s recovered", name, since).isTrue();
                assertThat(joined.path("complete").asBoolean()).as("%s's join carries all it missed", name).isTrue();
            }
            joined.path("history").forEach(this::record);
        }

        /** Reads what arrives until {@code done} holds; fails after {@link #WAIT}. */
        void pumpUntil(BooleanSupplier done, String what) {
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!done.getAsBoolean()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(name + " (node " + node + ") never got " + what + "; it has seqs "
                            + seen.keySet() + " and acks " + acks);
                }
                JsonNode m = socket.next(Duration.ofMillis(100));
                if (m != null) {
                    record(m);
                }
            }
        }

        /** Everything already delivered to a socket that has closed. */
        void drain() {
            for (JsonNode m = socket.next(Duration.ofMillis(200)); m != null; m = socket.next(Duration.ofMillis(200))) {
                record(m);
            }
        }

        long lastSeq() {
            return seen.isEmpty() ? 0 : seen.lastKey();
        }
    }

    @Test
    void threeNodesBehindRoundRobinNginxShareARoomAndAKilledNodesClientsRecoverThroughIt() throws Exception {
        assumeTrue(NginxProcess.unavailableReason() == null, NginxProcess.unavailableReason());
        assumeTrue(PostgresProcess.unavailableReason() == null, PostgresProcess.unavailableReason());
        assumeTrue(RedisProcess.available(), "redis-server is not installed (.ci/run installs it)");

        try (PostgresProcess postgres = PostgresProcess.launch();
             RedisProcess redis = RedisProcess.start(dir.resolve("redis"))) {
            String database = postgres.createDatabase();
            long started = System.nanoTime();
            startNodes(database, redis.url());
            try (NginxProcess nginx = NginxProcess.start(dir.resolve("nginx"), nodes.stream().map(ServeProcess::port).toList())) {
                long serving = System.nanoTime();
                try {
                    servesTheDocumentedSetUp(nginx, database);
                    System.out.printf("NodesBehindNginxTest: nodes and nginx up in %d ms, the checks took %d ms%n",
                            (serving - started) / 1_000_000, (System.nanoTime() - serving) / 1_000_000);
                } catch (AssertionError | RuntimeException e) {
                    throw new AssertionError(e.getMessage() + "\n" + nginx.log(), e);
                }
            }
        } finally {
            nodes.forEach(ServeProcess::close);
        }
    }

    private void servesTheDocumentedSetUp(NginxProcess nginx, String database) throws Exception {
        HttpResponse<Void> redirect = nginx.client().send(HttpRequest.newBuilder(nginx.plainHttp("/?x=1")).build(),
                HttpResponse.BodyHandlers.discarding());
        assertThat(redirect.statusCode()).as("plain HTTP is sent to https").isEqualTo(301);
        assertThat(redirect.headers().firstValue("Location")).hasValue("https://127.0.0.1/?x=1");

        // Clients connect one at a time, so that the one node whose gauge rises is where each landed.
        List<Client> clients = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            Client c = new Client("c" + i);
            c.connect(nginx);
            c.join(null);
            clients.add(c);
        }
        Map<Integer, List<String>> byNode = new TreeMap<>();
        clients.forEach(c -> byNode.computeIfAbsent(c.node, n -> new ArrayList<>()).add(c.name));
        assertThat(byNode.keySet()).as("round-robin puts clients on every node: %s", byNode).hasSize(NODES);

        // Everyone sends; everyone gets everything in one order.
        for (Client c : clients) {
            for (int k = 0; k < SENDS_EACH; k++) {
                c.socket.say(ROOM, c.name + "-" + k, "from " + c.name + " on node " + c.node);
            }
        }
        int total = CLIENTS * SENDS_EACH;
        for (Client c : clients) {
            c.pumpUntil(() -> c.acks.size() == SENDS_EACH && c.seen.size() == total, total + " messages and its acks");
        }
        Map<Long, String> order = clients.get(0).seen;
        assertThat(order.keySet()).as("seqs of the room").containsExactlyElementsOf(oneTo(total));
        for (Client c : clients) {
            assertThat(c.seen).as("%s (node %s) saw the room as c0 (node %s) did", c.name, c.node, clients.get(0).node)
                    .isEqualTo(order);
            c.acks.forEach((id, seq) -> assertThat(order.get(seq)).as("ack of %s", id).isEqualTo(id));
        }

        longPollsAreAnsweredBySendsThroughAnotherNode(nginx, clients);

        // A node dies with clients on it, and with a long poll held on it (in another room, so that
        // nothing wakes it before the kill). One of its clients had just sent, without waiting for the ack.
        int victimNode = clients.get(0).node;
        long lobbySeq = post(nginx, LOBBY, "poster", "lobby-1", "before the kill");
        HeldPolls lobbyPolls = holdLongPolls(nginx, LOBBY, lobbySeq);
        assertThat(lobbyPolls.perNode[victimNode]).as("a poll is held on the node to be killed (%s per node)",
                Arrays.toString(lobbyPolls.perNode)).isPositive();
        List<Client> victims = clients.stream().filter(c -> c.node == victimNode).toList();
        List<Client> survivors = clients.stream().filter(c -> c.node != victimNode).toList();
        Client unsure = victims.get(0);
        unsure.socket.say(ROOM, unsure.name + "-last", "sent as node " + victimNode + " dies");
        assertThat(nodes.get(victimNode).kill9()).as("exit status after SIGKILL").isEqualTo(128 + 9);
        dead.add(victimNode);
        for (Client v : victims) {
            awaitTrue(v.socket::isClosed, "nginx closes " + v.name + "'s connection when its node dies");
            v.drain();
        }
        assertThat(survivors).as("clients of live nodes stay connected").noneMatch(c -> c.socket.isClosed());

        for (Client s : survivors) {
            s.socket.say(ROOM, s.name + "-after", "while node " + victimNode + " is down");
        }
        for (Client s : survivors) {
            s.pumpUntil(() -> s.acks.containsKey(s.name + "-after"), "the ack of its send after the kill");
        }
        // nginx passed the dead node's poll (a GET, not yet answered) on to a live node.
        post(nginx, LOBBY, "poster", "lobby-2", "after the kill");
        lobbyPolls.assertAnsweredWith(lobbySeq + 1, "lobby-2");

        // The dead node's clients come back through nginx, to live nodes, and pick up where they were.
        for (Client v : victims) {
            long since = v.lastSeq();
            assertThat(v.seen.keySet()).as("%s had a gapless run", v.name).containsExactlyElementsOf(oneTo(since));
            v.socket.close();
            v.connect(nginx);
            assertThat(v.node).as("%s reconnected to a live node", v.name).isNotEqualTo(victimNode);
            v.join(since);
        }
        if (!unsure.acks.containsKey(unsure.name + "-last")) {
            unsure.socket.say(ROOM, unsure.name + "-last", "sent as node " + victimNode + " dies");
            unsure.pumpUntil(() -> unsure.acks.containsKey(unsure.name + "-last"), "the ack of its resend");
        }

        // Every client, wherever it is, has seen exactly what PostgreSQL holds: each message once, in order.
        Map<Long, String> stored = storedHistory(database);
        assertThat(stored.keySet()).as("PostgreSQL's seqs").containsExactlyElementsOf(oneTo(stored.size()));
        assertThat(stored.values()).as("what PostgreSQL holds, each once")
                .doesNotHaveDuplicates()
                .contains(unsure.name + "-last")
                .containsAll(survivors.stream().map(s -> s.name + "-after").toList());
        for (Client c : clients) {
            c.pumpUntil(() -> c.seen.size() >= stored.size(), stored.size() + " messages");
            assertThat(c.seen).as("%s (now on node %s) saw exactly PostgreSQL's history", c.name, c.node).isEqualTo(stored);
            c.acks.forEach((id, seq) -> assertThat(stored.get(seq)).as("acknowledged %s stored at its seq", id).isEqualTo(id));
        }
        int[] now = webSockets();
        assertThat(now[victimNode]).isZero();
        assertThat(now[0] + now[1] + now[2]).as("every client connected to a live node").isEqualTo(CLIENTS);
        clients.forEach(c -> c.socket.close());
    }

    /**
     * Three long polls through nginx, spread round-robin, then one send through a WebSocket on a node
     * that holds as few of them as possible: the polls on other nodes are woken through Redis.
     */
    private void longPollsAreAnsweredBySendsThroughAnotherNode(NginxProcess nginx, List<Client> clients) throws Exception {
        long since = clients.get(0).lastSeq();
        HeldPolls held = holdLongPolls(nginx, ROOM, since);
        int sendNode = 0;
        for (int n = 1; n < NODES; n++) {
            if (held.perNode[n] < held.perNode[sendNode]) {
                sendNode = n;
            }
        }
        int finalSendNode = sendNode;
        assertThat(held.polls.size() - held.perNode[sendNode]).as("polls held on nodes other than the sender's (%s per node)",
                Arrays.toString(held.perNode)).isPositive();
        Client sender = clients.stream().filter(c -> c.node == finalSendNode).findFirst().orElseThrow();
        sender.socket.say(ROOM, sender.name + "-wakes", "through node " + sendNode);
        held.assertAnsweredWith(since + 1, sender.name + "-wakes");
        for (Client c : clients) {
            c.pumpUntil(() -> c.seen.containsKey(since + 1), "the message that woke the polls");
        }
    }

    /** Long polls through nginx, one per node if round-robin spreads them, and how many each node holds. */
    private record HeldPolls(List<CompletableFuture<HttpResponse<String>>> polls, int[] perNode) {

        /** Every poll is answered 200 with the message at {@code seq} first. */
        void assertAnsweredWith(long seq, String id) throws Exception {
            for (CompletableFuture<HttpResponse<String>> poll : polls) {
                HttpResponse<String> answer = poll.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(answer.statusCode()).as("long poll answer %s", answer.body()).isEqualTo(200);
                JsonNode messages = WsClient.JSON.readTree(answer.body()).path("messages");
                assertThat(messages).as("long poll answer %s", answer.body()).isNotEmpty();
                assertThat(messages.get(0).path("seq").asLong()).isEqualTo(seq);
                assertThat(messages.get(0).path("id").asText()).isEqualTo(id);
            }
        }
    }

    private HeldPolls holdLongPolls(NginxProcess nginx, String room, long since) throws Exception {
        long[] before = httpRequests();
        List<CompletableFuture<HttpResponse<String>>> polls = new ArrayList<>();
        for (int i = 0; i < NODES; i++) {
            polls.add(nginx.client().sendAsync(HttpRequest.newBuilder(
                            nginx.https("/api/rooms/" + room + "/messages?since=" + since + "&wait=25"))
                    .timeout(Duration.ofSeconds(40)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        // Each read of /metrics counts as a request itself: the k-th read after the baseline shows k more.
        int[] held = new int[NODES];
        int reads = 0;
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            long[] now = httpRequests();
            reads++;
            int sum = 0;
            for (int n = 0; n < NODES; n++) {
                held[n] = (int) (now[n] - before[n] - reads);
                sum += held[n];
            }
            if (sum == polls.size()) {
                break;
            }
            assertThat(System.nanoTime()).as("the polls reach the nodes; per node so far %s", Arrays.toString(held))
                    .isLessThan(deadline);
            Thread.sleep(20);
        }
        assertThat(polls).as("long polls are held while nothing is new").noneMatch(CompletableFuture::isDone);
        return new HeldPolls(polls, held);
    }

    /** A guest's send over the HTTP API through nginx; returns the ack's seq. */
    private static long post(NginxProcess nginx, String room, String name, String id, String text) throws Exception {
        HttpResponse<String> ack = nginx.client().send(HttpRequest.newBuilder(nginx.https("/api/rooms/" + room + "/messages"))
                .header("Content-Type", "application/json").header("X-Parley-Name", name)
                .POST(HttpRequest.BodyPublishers.ofString(WsClient.JSON.writeValueAsString(Map.of("id", id, "text", text))))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ack.statusCode()).as("send %s through nginx: %s", id, ack.body()).isEqualTo(200);
        return WsClient.JSON.readTree(ack.body()).path("seq").asLong();
    }

    /**
     * The documented flags, with this machine's addresses: nginx reaches the nodes from 127.0.0.1, and
     * the public URL is the TLS server's (standard port, as nginx's {@code $host} passes it). One after
     * another: JVMs starting side by side on a busy machine can miss ServeProcess's start timeout.
     */
    private void startNodes(String database, String redisUrl) throws Exception {
        for (int i = 0; i < NODES; i++) {
            for (int attempt = 1; ; attempt++) {
                try {
                    nodes.add(ServeProcess.start(dir.resolve("node" + i), dir.resolve("node" + i + "-" + attempt + ".log"),
                            "--postgres-url", database, "--redis-url", redisUrl,
                            "--trusted-proxy", "127.0.0.1", "--public-url", "https://127.0.0.1"));
                    break;
                } catch (IllegalStateException e) {
                    // ServeProcess picks a free port and the child binds it seconds later: meanwhile an
                    // outgoing connection (the other nodes' PostgreSQL and Redis pools) may take it.
                    if (attempt == 3 || !String.valueOf(e.getMessage()).contains("Address already in use")) {
                        throw e;
                    }
                }
            }
        }
    }

    /** The node whose WebSocket count rose by one since {@code before}. */
    private int landedOn(int[] before) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            int[] now = webSockets();
            for (int n = 0; n < NODES; n++) {
                if (now[n] == before[n] + 1) {
                    return n;
                }
            }
            assertThat(System.nanoTime()).as("a node counts the new connection: before %s, now %s",
                    Arrays.toString(before), Arrays.toString(now)).isLessThan(deadline);
            Thread.sleep(20);
        }
    }

    private int[] webSockets() throws Exception {
        int[] counts = new int[NODES];
        for (int n = 0; n < NODES; n++) {
            counts[n] = dead.contains(n) ? 0 : (int) Double.parseDouble(metric(n, WEBSOCKETS));
        }
        return counts;
    }

    private long[] httpRequests() throws Exception {
        long[] counts = new long[NODES];
        for (int n = 0; n < NODES; n++) {
            counts[n] = (long) Double.parseDouble(metric(n, HTTP_REQUESTS));
        }
        return counts;
    }

    /** A value from node {@code n}'s /metrics, read from the node itself, not through nginx. */
    private String metric(int n, Pattern pattern) throws Exception {
        HttpResponse<String> metrics = direct.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + nodes.get(n).port() + "/metrics")).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        Matcher m = pattern.matcher(metrics.body());
        if (metrics.statusCode() != 200 || !m.find()) {
            throw new AssertionError("node " + n + "'s /metrics has no " + pattern + ": " + metrics.statusCode());
        }
        return m.group(1);
    }

    private static Map<Long, String> storedHistory(String database) throws Exception {
        Map<Long, String> rows = new TreeMap<>();
        try (Connection c = PostgresProcess.connect(database);
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT seq, client_id FROM messages WHERE room = '" + ROOM + "' ORDER BY seq")) {
            while (r.next()) {
                rows.put(r.getLong(1), r.getString(2));
            }
        }
        return rows;
    }

    private static void awaitTrue(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + WAIT + ": " + what);
            }
            Thread.sleep(20);
        }
    }

    private static List<Long> oneTo(long n) {
        List<Long> out = new ArrayList<>();
        for (long s = 1; s <= n; s++) {
            out.add(s);
        }
        return out;
    }
}
