package io.parley.browser;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.browser.ChatPage.Line;
import io.parley.config.Networks;
import io.parley.testing.ApiClient;
import io.parley.testing.NginxProcess;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
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
 * address the page was loaded from.
 *
 * <p>Parley trusts 127.0.0.1, where nginx connects from. The page's Chromium trusts the test
 * certificate's key, and no other ({@link Chromium#trusting}).
 */
class BehindNginxBrowserTest {

    private static final String ROOM = "lobby";

    @TempDir
    Path dir;

    private final List<ChatPage> pages = new ArrayList<>();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    /** The shipped configuration, or one an operator got wrong in the way the test is about. */
    enum Proxy {
        AS_SHIPPED(conf -> conf),
        /** Parley gets {@code Host: 127.0.0.1:<its port>}, nginx's name for it; X-Forwarded-Host stays. */
        WITHOUT_HOST(conf -> without(conf, "    proxy_set_header Host $http_host;\n"));

        final UnaryOperator<String> edit;

        Proxy(UnaryOperator<String> edit) {
            this.edit = edit;
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

    @ParameterizedTest
    @EnumSource(Proxy.class)
    void chatsOverWebSocketThroughNginx(Proxy proxy) throws Exception {
        TestServer server = closedAfter(TestServer.start(dir, c -> c.withAdmission(c.admission()
                .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1"))))));
        NginxProcess nginx = closedAfter(NginxProcess.startSingleNode(dir.resolve("nginx"), server.port(), proxy.edit));
        HttpResponse<Void> redirect = nginx.client().send(HttpRequest.newBuilder(nginx.plainHttp("/")).build(),
                HttpResponse.BodyHandlers.discarding());
        assertThat(redirect.statusCode()).as("plain HTTP is sent to https").isEqualTo(301);

        chatsThrough(server, nginx, "websocket");
    }

    @ParameterizedTest
    @EnumSource(Proxy.class)
    void chatsOverLongPollingWhenNginxDoesNotPassTheUpgradeOn(Proxy proxy) throws Exception {
        TestServer server = closedAfter(TestServer.start(dir, c -> c.withAdmission(c.admission()
                .withTrustedProxies(Networks.parse("trusted proxy", List.of("127.0.0.1"))))));
        NginxProcess nginx = closedAfter(NginxProcess.startSingleNode(dir.resolve("nginx"), server.port(),
                conf -> withoutUpgrade(proxy.edit.apply(conf))));

        chatsThrough(server, nginx, "longpoll");
        assertThat(nginx.log()).as("nginx's log: the page fell back because Parley was asked for no upgrade")
                .contains("\"GET /chat HTTP/1.1\" 426");
    }

    /**
     * Ada's page, loaded from nginx over https, and Bob, a WebSocket client of the server, say one
     * thing each: both see both, the server stores both in order, and the page stays on
     * {@code transport} and shows no refusal.
     */
    private void chatsThrough(TestServer server, NginxProcess nginx, String transport) throws Exception {
        ChatPage ada = ChatPage.open(nginx.https("/"), List.of(Chromium.trusting(nginx.certificateKeyHash())));
        pages.add(ada);
        ada.join("ada", ROOM);
        ada.awaitTransport(transport);
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join(ROOM);

            ada.say("hello from ada, through nginx");
            JsonNode heard = bob.expect("message", m -> m.path("text").asText().equals("hello from ada, through nginx"));
            assertThat(heard.path("from").asText()).contains("ada");

            bob.say(ROOM, "b1", "hello from bob");
            bob.expect("ack");
            assertThat(ada.awaitText("hello from bob").from()).isEqualTo("bob");
        }
        assertThat(ada.messages()).extracting(Line::text).containsExactly("hello from ada, through nginx", "hello from bob");
        assertThat(ada.messages()).extracting(Line::seq).containsExactly(1L, 2L);
        assertThat(stored(server)).containsExactly("hello from ada, through nginx", "hello from bob");
        assertThat(ada.transport()).as("the page's transport at the end").isEqualTo(transport);
        assertThat(ada.status() + "\n" + ada.script("return document.body.innerText")).as("what the page shows")
                .doesNotContainIgnoringCase("forbidden").doesNotContainIgnoringCase("origin not allowed");
    }

    /** Every text the server stores for the room, in seq order. */
    private static List<String> stored(TestServer server) {
        try (ApiClient api = new ApiClient(server.port())) {
            JsonNode messages = ApiClient.json(api.get("/api/rooms/" + ROOM + "/messages?since=0")).get("messages");
            return StreamSupport.stream(messages.spliterator(), false).map(m -> m.get("text").asText()).toList();
        }
    }
}
