package io.parley.browser;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.browser.ChatPage.Line;
import io.parley.config.Networks;
import io.parley.config.ServerConfig;
import io.parley.testing.FreePorts;
import io.parley.testing.NginxProcess;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.StreamSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The browser client in a real Chromium, through a real nginx running the shipped single-node
 * configuration (src/dist/nginx/parley.conf) over TLS with a certificate made for the test, chatting
 * with a second client: over WebSocket, and over long polling where the proxy does not pass the
 * WebSocket upgrade on. Each both as shipped and without the line that forwards {@code Host}, the
 * configuration issue 11 reported: there Parley sees nginx's upstream address as {@code Host}, and
 * only the {@code X-Forwarded-Host} and {@code X-Forwarded-Proto} from its trusted proxy tell it the
 * address the page was loaded from. Parley runs with {@code --public-url} naming nginx's address, as
 * the shipped file's head says, except in the set-up of issue 11's report (no public URL).
 *
 * <p>Parley trusts 127.0.0.1, where nginx connects from. The page's Chromium trusts the test
 * certificate's key, and no other ({@link Chromium#trusting}).
 */
class BehindNginxBrowserTest {

    private static final String ROOM = "lobby";
    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    private final List<ChatPage> pages = new ArrayList<>();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    /**
     * The shipped configuration, or one an operator got wrong in the way the test is about; Parley
     * with {@code --public-url} naming nginx's address (as the shipped file's head says to run it), or
     * without one (as in issue 11's report).
     */
    enum Proxy {
        AS_SHIPPED(conf -> conf, true),
        /** Parley gets {@code Host: 127.0.0.1:<its port>}, nginx's name for it; X-Forwarded-Host stays. */
        WITHOUT_HOST(conf -> without(conf, "    proxy_set_header Host $http_host;\n"), false),
        /** As above, and the forwarded host, not Host, must be the public URL's (else 421). */
        WITHOUT_HOST_PINNED(WITHOUT_HOST.edit, true);

        final UnaryOperator<String> edit;
        final boolean publicUrl;

        Proxy(UnaryOperator<String> edit, boolean publicUrl) {
            this.edit = edit;
            this.publicUrl = publicUrl;
        }
    }

    /** The configuration without a line it must have. */
    private static String without(String conf, String line) {
        assertThat(conf).as("the shipped nginx configuration").contains(line);
        return conf.replace(line, "");
    }

    /** Without these nginx sends Parley "Connection: close" and no Upgrade: every handshake fails (426). */
    private static String withoutUpgrade(String conf) {
        return without(without(conf, "    proxy_set_header Upgrade $http_upgrade;\n"),
                "    proxy_set_header Connection $connection_upgrade;\n");
    }

    @BeforeEach
    void needsChromiumAndNginx() {
        Chromium.assumeInstalled();
        assumeTrue(NginxProcess.unavailableReason() == null, NginxProcess.unavailableReason());
    }

    @AfterEach
    void closeAll(TestInfo test) throws Exception {
        try {
            for (int i = 0; i < pages.size(); i++) {
                pages.get(i).screenshot(getClass().getSimpleName() + "-" + test.getDisplayName()
                        .replaceAll("[^A-Za-z0-9_]+", "_") + "-" + (i + 1));
            }
        } finally {
            pages.forEach(ChatPage::close);
            for (AutoCloseable c : closeAfter.reversed()) {
                c.close();
            }
        }
    }

    private <T extends AutoCloseable> T closedAfter(T resource) {
        closeAfter.add(resource);
        return resource;
    }

    /**
     * Parley trusting 127.0.0.1, and nginx in front of it running the configuration {@code edit} makes
     * of the shipped one; with {@code proxy.publicUrl}, Parley's public URL is nginx's https address.
     */
    private NginxProcess serveBehindNginx(Proxy proxy, UnaryOperator<String> edit) throws Exception {
        int tlsPort = FreePorts.belowEphemeralRange();
        URI publicUrl = URI.create("https://127.0.0.1:" + tlsPort);
        TestServer server = closedAfter(TestServer.start(dir, c -> {
            ServerConfig trusting = c.withAdmission(c.admission()
                    .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1"))));
            return proxy.publicUrl ? trusting.withAccess(trusting.access().withPublicUrl(publicUrl)) : trusting;
        }));
        return closedAfter(NginxProcess.startSingleNode(dir.resolve("nginx"), server.port(), tlsPort, edit));
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(Proxy.class)
    void chatsOverWebSocketThroughNginx(Proxy proxy) throws Exception {
        NginxProcess nginx = serveBehindNginx(proxy, proxy.edit);
        HttpResponse<Void> redirect = nginx.client().send(HttpRequest.newBuilder(nginx.plainHttp("/")).build(),
                HttpResponse.BodyHandlers.discarding());
        assertThat(redirect.statusCode()).as("plain HTTP is sent to https").isEqualTo(301);

        chatsThrough(nginx, "websocket");
    }

    /**
     * Not WITHOUT_HOST_PINNED, to keep the class short: its host check is the same for every request,
     * the page's own included, and the WebSocket run meets it.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Proxy.class, names = {"AS_SHIPPED", "WITHOUT_HOST"})
    void chatsOverLongPollingWhenNginxDoesNotPassTheUpgradeOn(Proxy proxy) throws Exception {
        NginxProcess nginx = serveBehindNginx(proxy, conf -> withoutUpgrade(proxy.edit.apply(conf)));

        chatsThrough(nginx, "longpoll");
        assertThat(nginx.log()).as("nginx's log: the page fell back because Parley was asked for no upgrade")
                .contains("\"GET /chat HTTP/1.1\" 426");
    }

    /**
     * Ada's page, loaded from nginx over https, and Bob, a client of the HTTP API through the same
     * nginx, say one thing each: both see both, the server stores both in order, and the page stays
     * on {@code transport} and shows no refusal. Bob is no browser and sends no Origin, so what he
     * meets is only the public-URL host check.
     */
    private void chatsThrough(NginxProcess nginx, String transport) throws Exception {
        ChatPage ada = ChatPage.open(nginx.https("/"), List.of(Chromium.trusting(nginx.certificateKeyHash())));
        pages.add(ada);
        ada.join("ada", ROOM);
        ada.awaitTransport(transport);

        ada.say("hello from ada, through nginx");
        JsonNode heard = awaitMessage(nginx, 0, "hello from ada, through nginx");
        assertThat(heard.path("from").asText()).contains("ada");
        HttpResponse<String> sent = nginx.client().send(HttpRequest.newBuilder(nginx.https("/api/rooms/" + ROOM + "/messages"))
                .header("Content-Type", "application/json").header("X-Parley-Name", "bob")
                .POST(HttpRequest.BodyPublishers.ofString("{\"id\":\"b1\",\"text\":\"hello from bob\"}"))
                .timeout(WAIT).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(sent.statusCode()).as("Bob's send through nginx: %s", sent.body()).isEqualTo(200);
        assertThat(ada.awaitText("hello from bob").from()).isEqualTo("bob");

        assertThat(ada.messages()).extracting(Line::text).containsExactly("hello from ada, through nginx", "hello from bob");
        assertThat(ada.messages()).extracting(Line::seq).containsExactly(1L, 2L);
        assertThat(texts(read(nginx, 0, 0))).as("stored").containsExactly("hello from ada, through nginx", "hello from bob");
        assertThat(ada.transport()).as("the page's transport at the end").isEqualTo(transport);
        assertThat(ada.status() + "\n" + ada.script("return document.body.innerText")).as("what the page shows")
                .doesNotContainIgnoringCase("forbidden").doesNotContainIgnoringCase("origin not allowed");
    }

    /** The room's messages after {@code since}, read through nginx; a long poll of {@code waitSeconds} if none are new. */
    private static JsonNode read(NginxProcess nginx, long since, int waitSeconds) throws Exception {
        HttpResponse<String> read = nginx.client().send(HttpRequest.newBuilder(nginx.https("/api/rooms/" + ROOM
                + "/messages?since=" + since + "&wait=" + waitSeconds)).timeout(WAIT).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(read.statusCode()).as("read through nginx: %s", read.body()).isEqualTo(200);
        return WsClient.JSON.readTree(read.body()).get("messages");
    }

    private static List<String> texts(JsonNode messages) {
        return StreamSupport.stream(messages.spliterator(), false).map(m -> m.get("text").asText()).toList();
    }

    /** Long-polls through nginx, as Bob, until a message with this text is stored. */
    private static JsonNode awaitMessage(NginxProcess nginx, long since, String text) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            for (JsonNode m : read(nginx, since, 5)) {
                if (m.path("text").asText().equals(text)) {
                    return m;
                }
                since = Math.max(since, m.path("seq").asLong());
            }
        }
        throw new AssertionError("no message '" + text + "' stored within " + WAIT.toSeconds() + " s");
    }
}
