package io.parley;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.config.Networks;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.ApiClient;
import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The HTTP API and /metrics (docs/PROTOCOL.md, "HTTP API" and "Metrics"): send, poll, long-poll and
 * read history over plain HTTP/1.1, with the WebSocket protocol's rules and error codes. Every test
 * has its own room, guest name and connections.
 */
class HttpApiTest {

    @TempDir
    static Path dir;
    static TestServer server;

    ApiClient api;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir.resolve("api"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @BeforeEach
    void openApi() {
        api = new ApiClient(server.port());
    }

    @AfterEach
    void closeApi() {
        api.close();
    }

    private static String messages(String room) {
        return "/api/rooms/" + room + "/messages";
    }

    private JsonNode post(String name, String room, String id, String text) {
        HttpResponse<String> r = api.postAs(name, room, id, text);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return ApiClient.json(r);
    }

    private static List<Long> seqs(JsonNode page) {
        List<Long> out = new ArrayList<>();
        page.path("messages").forEach(m -> out.add(m.path("seq").asLong()));
        return out;
    }

    private static void assertError(HttpResponse<String> r, int status, String code) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
        JsonNode error = ApiClient.json(r);
        assertThat(error.path("type").asText()).isEqualTo("error");
        assertThat(error.path("code").asText()).isEqualTo(code);
        assertThat(error.path("message").asText()).isNotBlank();
    }

    @Test
    void aPostIsAcknowledgedOnceStoredAndReachesWebSocketMembersLive() {
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("http-live");

            HttpResponse<String> r = api.postAs("poster", "http-live", "p1", "hello from HTTP");

            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/json"));
            JsonNode ack = ApiClient.json(r);
            assertThat(ack.path("type").asText()).isEqualTo("ack");
            assertThat(ack.path("id").asText()).isEqualTo("p1");
            assertThat(ack.path("room").asText()).isEqualTo("http-live");
            assertThat(ack.path("seq").asLong()).isEqualTo(1);
            assertThat(ack.path("time").asLong()).isPositive();

            JsonNode live = bob.expect("message", m -> m.path("id").asText().equals("p1"));
            assertThat(live.path("seq").asLong()).isEqualTo(1);
            assertThat(live.path("text").asText()).isEqualTo("hello from HTTP");
            assertThat(live.path("from").asText()).isEqualTo("poster");
            assertThat(live.path("user").asText()).isEqualTo("guest:poster");
            assertThat(live.path("time").asLong()).isEqualTo(ack.path("time").asLong());
        }
    }

    @Test
    void aPollReturnsTheMessagesAfterSinceWithWhereTheRoomStands() {
        for (int i = 1; i <= 5; i++) {
            post("poller", "polled", "m" + i, "message " + i);
        }

        JsonNode page = ApiClient.json(api.get(messages("polled") + "?since=2"));
        assertThat(page.path("type").asText()).isEqualTo("history");
        assertThat(page.path("room").asText()).isEqualTo("polled");
        assertThat(seqs(page)).containsExactly(3L, 4L, 5L);
        assertThat(page.path("messages").get(0).path("id").asText()).isEqualTo("m3");
        assertThat(page.path("seq").asLong()).isEqualTo(5);
        assertThat(page.path("firstSeq").asLong()).isEqualTo(1);
        assertThat(page.path("complete").asBoolean(false)).isTrue();
        assertThat(page.path("recovered").asBoolean(false)).isTrue();

        JsonNode partial = ApiClient.json(api.get(messages("polled") + "?since=2&limit=2"));
        assertThat(seqs(partial)).containsExactly(3L, 4L);
        assertThat(partial.path("complete").asBoolean(true)).isFalse();

        JsonNode upToDate = ApiClient.json(api.get(messages("polled") + "?since=5"));
        assertThat(seqs(upToDate)).isEmpty();
        assertThat(upToDate.path("seq").asLong()).isEqualTo(5);
        assertThat(upToDate.path("complete").asBoolean(false)).isTrue();
    }

    @Test
    void historyReadsTheLatestOrThoseBeforeASeq() {
        for (int i = 1; i <= 5; i++) {
            post("historian", "history", "h" + i, "message " + i);
        }

        assertThat(seqs(ApiClient.json(api.get(messages("history"))))).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(seqs(ApiClient.json(api.get(messages("history") + "?limit=2")))).containsExactly(4L, 5L);
        assertThat(seqs(ApiClient.json(api.get(messages("history") + "?before=4&limit=2")))).containsExactly(2L, 3L);
        assertThat(seqs(ApiClient.json(api.get(messages("history") + "?before=1")))).isEmpty();
        assertThat(seqs(ApiClient.json(api.get(messages("never-used"))))).isEmpty();
    }

    @Test
    void aLongPollIsAnsweredAsSoonAsAMessageArrives() throws Exception {
        long latest = post("waiter", "long-poll", "first", "before the poll").path("seq").asLong();

        CompletableFuture<HttpResponse<String>> poll = api.sendAsync(
                api.request(messages("long-poll") + "?since=" + latest + "&wait=5").GET().build());
        // Let the poll reach the server and wait there; answering at once would not be a long poll.
        Thread.sleep(300);
        assertThat(poll).isNotDone();
        try (WsClient ada = WsClient.hello(server.chatUri(), "ada")) {
            ada.join("long-poll");
            ada.say("long-poll", "news", "something happened");

            // Well before the 5 s wait could have run out.
            HttpResponse<String> r = poll.get(4, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            JsonNode page = ApiClient.json(r);
            assertThat(page.path("messages")).hasSize(1);
            assertThat(page.path("messages").get(0).path("id").asText()).isEqualTo("news");
            assertThat(page.path("messages").get(0).path("seq").asLong()).isEqualTo(latest + 1);
            assertThat(page.path("seq").asLong()).isEqualTo(latest + 1);
            assertThat(page.path("complete").asBoolean(false)).isTrue();
        }
    }

    @Test
    void aLongPollThatHearsNothingAnswersEmptyWhenTheWaitRunsOut() {
        long latest = post("waiter", "quiet-poll", "only", "the only message").path("seq").asLong();

        long start = System.nanoTime();
        HttpResponse<String> r = api.get(messages("quiet-poll") + "?since=" + latest + "&wait=1");
        long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode page = ApiClient.json(r);
        assertThat(page.path("messages").isArray()).isTrue();
        assertThat(page.path("messages")).isEmpty();
        assertThat(page.path("seq").asLong()).isEqualTo(latest);
        assertThat(waitedMillis).as("held for the wait").isGreaterThanOrEqualTo(900);
    }

    @Test
    void badRequestsAreAnswered400WithTheProtocolsCodes() {
        String room = messages("errors");
        assertError(api.post("errors", "{\"id\": \"x\", \"text\": ", "X-Parley-Name", "ed"), 400, "bad_json");
        assertError(api.post("errors", "[1, 2]", "X-Parley-Name", "ed"), 400, "bad_json");
        assertError(api.post("errors", "{\"id\": \"x\"}", "X-Parley-Name", "ed"), 400, "bad_request");
        assertError(api.post("errors", "{\"id\": 5, \"text\": \"hi\"}", "X-Parley-Name", "ed"), 400, "bad_request");
        assertError(api.post("errors", ApiClient.body("x", "hi"), "X-Parley-Name", "ed", "Content-Type", "text/plain"),
                400, "bad_request");
        assertError(api.postAs("ed", "no*stars", "x", "hi"), 400, "invalid_room");
        assertError(api.postAs("ed", "errors", "x", "   "), 400, "empty_message");
        assertError(api.postAs("ed", "errors", "x", "y".repeat(2001)), 400, "message_too_long");
        assertError(api.postAs("ed", "errors", "", "hi"), 400, "invalid_id");
        assertError(api.post("errors", ApiClient.body("x", "hi")), 400, "invalid_name");
        assertError(api.get(room + "?since=-1"), 400, "invalid_since");
        assertError(api.get(room + "?since=abc"), 400, "invalid_since");
        assertError(api.get(room + "?since=1&wait=31"), 400, "bad_request");
        assertError(api.get("/api/rooms/no*stars/messages?since=0"), 400, "invalid_room");

        // None of it was stored, and the connection that got the errors still serves.
        assertThat(seqs(ApiClient.json(api.get(room + "?since=0")))).isEmpty();
        assertThat(api.postAs("ed", "errors", "x", "a fine message").statusCode()).isEqualTo(200);
    }

    @Test
    void aBodyLargerThanAnyMessageIsAnswered413() {
        HttpResponse<String> r = api.postAs("ed", "large", "x", "z".repeat(40_000));

        assertError(r, 413, "too_large");
    }

    /**
     * The server answers 413 as soon as the headers announce too much, while the body is still on its
     * way. Closing with that body unread resets the connection and can destroy the answer before the
     * client reads it: about one request in twenty did so on loopback. A hundred fresh connections,
     * so that the race cannot hide.
     */
    @Test
    void every413ReachesAClientThatIsStillSendingItsBody() {
        String tooLarge = "z".repeat(40_000);
        for (int i = 0; i < 100; i++) {
            try (ApiClient fresh = new ApiClient(server.port())) {
                assertError(fresh.postAs("ed", "large", "x" + i, tooLarge), 413, "too_large");
            }
        }
    }

    @Test
    void unknownRoutesAre404AndOtherMethods405() {
        assertError(api.get("/api/nothing/here"), 404, "not_found");
        assertError(api.get("/api/rooms/lobby/typing"), 404, "not_found");

        HttpResponse<String> put = api.send(api.request(messages("lobby"), "Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(ApiClient.body("x", "hi"))).build());
        assertError(put, 405, "method_not_allowed");
    }

    @Test
    void aGuestNameBeyondLatin1TravelsPercentEncoded() {
        String name = "日本 ada";
        String encoded = java.net.URLEncoder.encode(name, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
        HttpResponse<String> posted = api.post("intl", ApiClient.body("n1", "hi"), "X-Parley-Name", encoded);
        assertThat(posted.statusCode()).isEqualTo(200);

        JsonNode page = ApiClient.json(api.get(messages("intl") + "?since=0"));
        assertThat(page.path("messages").get(0).path("from").asText()).isEqualTo(name);
        assertThat(page.path("messages").get(0).path("user").asText()).isEqualTo("guest:" + name);
        assertError(api.post("intl", ApiClient.body("n2", "hi"), "X-Parley-Name", "100%"), 400, "invalid_name");
    }

    @Test
    void a405NamesTheMethodsAllowed() {
        HttpResponse<String> delete = api.send(api.request(messages("lobby")).DELETE().build());

        assertThat(delete.statusCode()).isEqualTo(405);
        // RFC 9110, section 15.5.6: the origin server MUST send Allow with a 405.
        assertThat(delete.headers().firstValue("Allow")).hasValueSatisfying(v -> assertThat(v).contains("GET", "POST"));
    }

    @Test
    void aForeignBrowserOriginIsRefused403AndTheServersOwnIsServed() {
        assertError(api.get(messages("lobby"), "Origin", "https://evil.example"), 403, "forbidden");
        assertError(api.post("lobby", ApiClient.body("x", "csrf"), "Origin", "https://evil.example",
                "X-Parley-Name", "victim"), 403, "forbidden");

        HttpResponse<String> own = api.get(messages("lobby"), "Origin", "http://127.0.0.1:" + server.port());
        assertThat(own.statusCode()).as(own.body()).isEqualTo(200);
    }

    @Test
    void postingFasterThanTheRateIsAnswered429WithRetryAfter() {
        HttpResponse<String> limited = null;
        // Default: 10 a second per connection, in bursts of 20.
        for (int i = 0; i < 100 && limited == null; i++) {
            HttpResponse<String> r = api.postAs("hasty", "hurry", "r" + i, "quick " + i);
            if (r.statusCode() != 200) {
                limited = r;
            }
        }

        assertThat(limited).as("a post over the rate").isNotNull();
        assertError(limited, 429, "rate_limited");
        assertThat(limited.headers().firstValue("Retry-After").map(Long::parseLong))
                .hasValueSatisfying(s -> assertThat(s).isPositive());
        assertThat(ApiClient.json(limited).path("retryAfter").asLong()).isPositive();
    }

    @Test
    void oneConnectionServesSeveralRequestsInTurnPipelinedOrNot() throws Exception {
        String host = "Host: 127.0.0.1\r\n";
        String body = ApiClient.body("k1", "kept alive");
        try (RawSocket s = new RawSocket(server.port())) {
            String head = s.request("POST " + messages("keep-alive") + " HTTP/1.1\r\n" + host
                    + "Content-Type: application/json\r\nX-Parley-Name: kim\r\nContent-Length: " + body.length()
                    + "\r\n\r\n" + body);
            assertThat(head).startsWith("HTTP/1.1 200");
            assertThat(WsClient.JSON.readTree(s.body(head)).path("type").asText()).isEqualTo("ack");

            head = s.request("GET /api/nowhere HTTP/1.1\r\n" + host + "\r\n");
            assertThat(head).startsWith("HTTP/1.1 404");
            s.body(head);

            head = s.request("GET " + messages("keep-alive") + "?since=0 HTTP/1.1\r\n" + host + "\r\n");
            assertThat(head).startsWith("HTTP/1.1 200");
            assertThat(s.body(head)).contains("kept alive");

            // Two requests in one write: answered in order.
            s.write("GET " + messages("keep-alive") + "?since=1 HTTP/1.1\r\n" + host + "\r\n"
                    + "GET " + messages("keep-alive") + "?since=0 HTTP/1.1\r\n" + host + "\r\n");
            String first = s.readHead();
            assertThat(first).startsWith("HTTP/1.1 200");
            assertThat(s.body(first)).contains("\"messages\":[]");
            String second = s.readHead();
            assertThat(second).startsWith("HTTP/1.1 200");
            assertThat(s.body(second)).contains("kept alive");
        }
    }

    @Test
    void pipelinedRequestsToTheApiAndToOtherRoutesAreAnsweredInOrder() throws Exception {
        String host = "Host: 127.0.0.1\r\n";
        try (RawSocket s = new RawSocket(server.port())) {
            // RFC 9112, section 9.3.2: responses to pipelined requests go out in the order of the requests.
            s.write("GET " + messages("pipelined") + "?since=0 HTTP/1.1\r\n" + host + "\r\n"
                    + "GET /healthz HTTP/1.1\r\n" + host + "\r\n");

            String first = s.readHead();
            String firstBody = s.body(first);
            String second = s.readHead();
            String secondBody = s.body(second);
            assertThat(firstBody).as("the answer to the first request, the API poll").contains("\"type\":\"history\"");
            assertThat(secondBody).as("the answer to the second request, /healthz").contains("\"status\":\"ok\"");
        }
    }

    static final List<String> PARLEY_COUNTERS = List.of("parley_bytes_received_total", "parley_bytes_sent_total",
            "parley_http_requests_total", "parley_deliveries_total", "parley_messages_stored_total");

    @Test
    void metricsAreServedInThePrometheusFormatAndCountTraffic() {
        HttpResponse<String> before = api.get("/metrics");
        assertThat(before.statusCode()).isEqualTo(200);
        assertThat(before.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
        String text = before.body();
        for (String name : PARLEY_COUNTERS) {
            assertThat(text).as(name).containsPattern("(?m)^# TYPE " + name + " counter$");
            assertThat(metric(text, name)).as(name).isNotNegative();
        }
        assertThat(text).contains("parley_connections{transport=\"websocket\"}");

        try (WsClient watcher = WsClient.hello(server.chatUri(), "watcher")) {
            watcher.join("metered");
            post("meter", "metered", "m1", "counted");
            watcher.expect("message", m -> m.path("id").asText().equals("m1"));
            String after = api.get("/metrics").body();

            for (String name : PARLEY_COUNTERS) {
                assertThat(metric(after, name)).as(name).isGreaterThan(metric(text, name));
            }
            // This scrape, the post, and the WebSocket handshake at least.
            assertThat(metric(after, "parley_http_requests_total")).isGreaterThanOrEqualTo(
                    metric(text, "parley_http_requests_total") + 3);
            assertThat(metric(after, "parley_connections{transport=\"websocket\"}")).isGreaterThanOrEqualTo(1);
            assertThat(metric(after, "parley_store_commit_seconds_count"))
                    .as("the post's commit is timed").isGreaterThan(metric(text, "parley_store_commit_seconds_count"));
            assertThat(after).contains("parley_store_commit_seconds_bucket{le=\"0.001\"}");
        }
    }

    @Test
    void metricsIncludeTheServersCpuTimeInSeconds() {
        String text = api.get("/metrics").body();
        List<String> cpu = text.lines().filter(l -> l.startsWith("process_cpu_time")).toList();

        assertThat(cpu).as("the process's CPU time, as docs/PROTOCOL.md names it")
                .anyMatch(l -> l.startsWith("process_cpu_time_seconds_total "));
        assertThat(metric(text, "process_cpu_time_seconds_total")).isPositive();
    }

    @Test
    void pagesOnAnAllowedOriginMayCallTheApiFromTheBrowser() throws Exception {
        String app = "https://app.example";
        try (TestServer cors = TestServer.start(dir.resolve("cors"), c -> c.withAllowedOrigins(List.of(app)));
             ApiClient browser = new ApiClient(cors.port())) {
            // The preflight a browser sends before a JSON POST from another origin.
            HttpResponse<String> preflight = browser.send(browser.request("/api/rooms/lobby/messages",
                            "Origin", app, "Access-Control-Request-Method", "POST",
                            "Access-Control-Request-Headers", "content-type,x-parley-name")
                    .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).build());
            assertThat(preflight.statusCode()).isEqualTo(200);
            assertThat(preflight.headers().firstValue("access-control-allow-origin")).hasValue(app);
            assertThat(preflight.headers().firstValue("access-control-allow-methods").orElseThrow()).contains("POST");
            assertThat(preflight.headers().firstValue("access-control-allow-headers").orElseThrow().toLowerCase())
                    .contains("content-type", "x-parley-name", "authorization");

            HttpResponse<String> sent = browser.post("lobby", ApiClient.body("c1", "from the app"),
                    "Origin", app, "X-Parley-Name", "ada");
            assertThat(sent.statusCode()).as(sent.body()).isEqualTo(200);
            assertThat(sent.headers().firstValue("access-control-allow-origin")).hasValue(app);
            HttpResponse<String> read = browser.get("/api/rooms/lobby/messages?since=0", "Origin", app);
            assertThat(read.headers().firstValue("access-control-allow-origin")).hasValue(app);
            assertThat(ApiClient.json(read).path("messages").get(0).path("text").asText()).isEqualTo("from the app");

            HttpResponse<String> foreign = browser.get("/api/rooms/lobby/messages", "Origin", "https://evil.example");
            assertError(foreign, 403, "forbidden");
            assertThat(foreign.headers().firstValue("access-control-allow-origin")).isEmpty();
        }
        // With no origin allowed, the server's own page needs no CORS, and none is offered.
        HttpResponse<String> own = api.get(messages("lobby"), "Origin", "http://127.0.0.1:" + server.port());
        assertThat(own.headers().firstValue("access-control-allow-origin")).isEmpty();
    }

    @Test
    void metricsAreServedOnlyToTheConfiguredNetworksJudgedByTheClientBehindATrustedProxy() throws Exception {
        // The default is this machine only; a proxy on this machine forwards a stranger.
        try (TestServer proxied = TestServer.start(dir.resolve("proxied"), c -> c.withAdmission(
                c.admission().withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1")))));
             ApiClient client = new ApiClient(proxied.port())) {
            assertThat(client.get("/metrics").statusCode()).as("from this machine").isEqualTo(200);
            HttpResponse<String> stranger = client.get("/metrics", "X-Forwarded-For", "203.0.113.5");
            assertThat(stranger.statusCode()).as("a stranger behind the proxy").isEqualTo(403);
            assertThat(stranger.body()).contains("--metrics-from");
            assertThat(client.get("/healthz", "X-Forwarded-For", "203.0.113.5").statusCode())
                    .as("health is for everyone").isEqualTo(200);
        }
        try (TestServer monitored = TestServer.start(dir.resolve("monitored"), c -> c
                .withAdmission(c.admission().withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1"))))
                .withAccess(c.access().withMetricsFrom(Networks.parse("metrics network", List.of("203.0.113.0/24")))));
             ApiClient client = new ApiClient(monitored.port())) {
            assertThat(client.get("/metrics", "X-Forwarded-For", "203.0.113.5").statusCode())
                    .as("the monitoring network").isEqualTo(200);
            assertThat(client.get("/metrics").statusCode()).as("this machine, not listed").isEqualTo(403);
        }
        // Without a trusted proxy the header is the client's own word, and changes nothing.
        assertThat(api.get("/metrics", "X-Forwarded-For", "203.0.113.5").statusCode()).isEqualTo(200);
    }

    @Test
    void withWebSocketOffAnUpgradeIsAnswered503AndTheApiStillServes() throws Exception {
        try (TestServer httpOnly = TestServer.start(dir.resolve("no-websocket"),
                c -> c.withAccess(Access.defaults().withWebSocket(false)));
             ApiClient fallback = new ApiClient(httpOnly.port());
             RawSocket s = new RawSocket(httpOnly.port())) {
            String head = s.upgrade();
            assertThat(head).startsWith("HTTP/1.1 503");
            assertThat(s.body(head)).contains("/api");

            HttpResponse<String> ack = fallback.postAs("fallback", "lobby", "f1", "no sockets here");
            assertThat(ack.statusCode()).as(ack.body()).isEqualTo(200);
            assertThat(seqs(ApiClient.json(fallback.get(messages("lobby") + "?since=0")))).containsExactly(1L);
        }
    }

    /** The value of a sample, by its name and labels as written; summed over label sets when given without. */
    private static double metric(String exposition, String sample) {
        Pattern p = Pattern.compile("(?m)^" + Pattern.quote(sample) + (sample.contains("{") ? "" : "(\\{[^}]*\\})?")
                + " (\\S+)$");
        Matcher m = p.matcher(exposition);
        double sum = 0;
        boolean found = false;
        while (m.find()) {
            sum += Double.parseDouble(m.group(m.groupCount()));
            found = true;
        }
        assertThat(found).as("sample " + sample + " in%n" + exposition).isTrue();
        return sum;
    }
}
