package io.parley.transport;

import io.parley.testing.TestCertificate;
import io.parley.testing.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TlsTest {

    @TempDir
    Path dir;

    @Test
    void servesWssAndHttpsWithAPemCertificateAndKey() throws Exception {
        TestCertificate certificate = TestCertificate.makeIn(dir);
        assumeTrue(certificate != null, "openssl is needed to make a test certificate");

        try (TestServer server = TestServer.start(dir.resolve("data"),
                c -> c.withTls(certificate.cert(), certificate.key()))) {
            HttpClient client = HttpClient.newBuilder().sslContext(certificate.trusting()).build();

            HttpResponse<String> health = client.send(HttpRequest.newBuilder(
                    URI.create("https://127.0.0.1:" + server.port() + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);

            CompletableFuture<String> reply = new CompletableFuture<>();
            WebSocket ws = client.newWebSocketBuilder().subprotocols("parley.v1")
                    .buildAsync(URI.create("wss://127.0.0.1:" + server.port() + "/chat"), new WebSocket.Listener() {
                        @Override
                        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                            reply.complete(data.toString());
                            return null;
                        }
                    }).join();
            ws.sendText("{\"type\":\"ping\",\"ref\":1}", true).join();
            assertThat(reply.get(10, TimeUnit.SECONDS)).contains("\"type\":\"pong\"");
            ws.abort();
        }
    }
}
