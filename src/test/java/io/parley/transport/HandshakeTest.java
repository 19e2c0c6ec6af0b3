package io.parley.transport;

import io.parley.testing.RawSocket;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HandshakeTest {

    @TempDir
    static Path dir;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(dir, c -> c.withAllowedOrigins(List.of("https://chat.example.com")));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private String request(String head) throws Exception {
        try (RawSocket s = new RawSocket(server.port())) {
            String response = s.request(head);
            return response + s.body(response);
        }
    }

    private static String handshake(String extraHeaders) {
        return "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n";
    }

    @Test
    void answersTheRfcSampleKeyWithTheRfcAcceptValue() throws Exception {
        String response = request(handshake(""));

        assertThat(response).startsWith("HTTP/1.1 101 Switching Protocols\r\n");
        assertThat(response).containsIgnoringCase("\r\nupgrade: websocket\r\n");
        assertThat(response).containsIgnoringCase("\r\nconnection: upgrade\r\n");
        assertThat(response).contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assertThat(response).containsIgnoringCase("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
    }

    @Test
    void selectsTheParleySubprotocolWhenOffered() throws Exception {
        String response = request(handshake("Sec-WebSocket-Protocol: chat.other, parley.v1\r\n"));

        assertThat(response).startsWith("HTTP/1.1 101");
        assertThat(response).containsIgnoringCase("sec-websocket-protocol: parley.v1\r\n");
    }

    @Test
    void plainGetOfTheChatEndpointIsTold426UpgradeRequired() throws Exception {
        String response = request("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 426 Upgrade Required\r\n");
        assertThat(response).containsIgnoringCase("upgrade: websocket\r\n");
        assertThat(response).contains("WebSocket endpoint");
    }

    @Test
    void unsupportedVersionIsTold426WithVersion13() throws Exception {
        String response = request(handshake("").replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"));

        assertThat(response).startsWith("HTTP/1.1 426 Upgrade Required\r\n");
        assertThat(response).containsIgnoringCase("sec-websocket-version: 13\r\n");
    }

    @Test
    void missingOrMalformedKeyIsABadRequest() throws Exception {
        String missing = request(handshake("").replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""));
        String notBase64 = request(handshake("").replace("dGhlIHNhbXBsZSBub25jZQ==", "not*base64!"));
        String wrongLength = request(handshake("").replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="));

        assertThat(missing).startsWith("HTTP/1.1 400 Bad Request\r\n");
        assertThat(notBase64).startsWith("HTTP/1.1 400 Bad Request\r\n");
        assertThat(wrongLength).startsWith("HTTP/1.1 400 Bad Request\r\n");
    }

    @Test
    void foreignBrowserOriginIsForbiddenBeforeTheUpgrade() throws Exception {
        String response = request(handshake("Origin: https://evil.example\r\n"));

        assertThat(response).startsWith("HTTP/1.1 403 Forbidden\r\n");
        assertThat(response).doesNotContain("Sec-WebSocket-Accept");
    }

    @Test
    void ownOriginConfiguredOriginsAndNonBrowsersAreAllowed() throws Exception {
        String own = request(handshake("Origin: http://127.0.0.1\r\n"));
        String configured = request(handshake("Origin: https://chat.example.com\r\n"));
        String none = request(handshake(""));

        assertThat(own).startsWith("HTTP/1.1 101");
        assertThat(configured).startsWith("HTTP/1.1 101");
        assertThat(none).startsWith("HTTP/1.1 101");
    }

    @Test
    void ownOriginMustMatchHostAndPort() throws Exception {
        String host = "Host: 127.0.0.1:" + server.port();
        String samePort = request(handshake("Origin: http://127.0.0.1:" + server.port() + "\r\n")
                .replace("Host: 127.0.0.1", host));
        String otherPort = request(handshake("Origin: http://127.0.0.1:1\r\n").replace("Host: 127.0.0.1", host));
        String otherHost = request(handshake("Origin: http://localhost:" + server.port() + "\r\n")
                .replace("Host: 127.0.0.1", host));

        assertThat(samePort).startsWith("HTTP/1.1 101");
        assertThat(otherPort).startsWith("HTTP/1.1 403");
        assertThat(otherHost).startsWith("HTTP/1.1 403");
    }

    @Test
    void jdkClientOffersParleyAndIsServed() {
        try (WsClient c = WsClient.connect(server.chatUri())) {
            assertThat(c.socket().getSubprotocol()).isEqualTo("parley.v1");
        }
    }

    @Test
    void jdkClientFromAForeignOriginIsRefused() {
        var builder = HttpClient.newHttpClient().newWebSocketBuilder().header("Origin", "https://evil.example");
        assertThatThrownBy(() -> builder.buildAsync(server.chatUri(), new WebSocket.Listener() { }).join())
                .isInstanceOf(CompletionException.class)
                .hasCauseInstanceOf(WebSocketHandshakeException.class)
                .satisfies(e -> assertThat(((WebSocketHandshakeException) e.getCause()).getResponse().statusCode())
                        .isEqualTo(403));
    }

    @Test
    void queryStringOnTheChatPathIsAccepted() {
        try (WsClient c = WsClient.connect(URI.create(server.chatUri() + "?client=test"))) {
            c.send(Map.of("type", "ping"));
            assertThat(c.expect("pong")).isNotNull();
        }
    }

    @Test
    void otherMethodsOnTheChatPathAreNotAllowed() throws Exception {
        String response = request("POST /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");

        assertThat(response).startsWith("HTTP/1.1 405");
        assertThat(response).containsIgnoringCase("allow: GET");
    }
}
