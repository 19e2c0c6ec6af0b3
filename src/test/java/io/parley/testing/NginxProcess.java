package io.parley.testing;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real nginx (Debian's package, {@code /usr/sbin/nginx}) in front of Parley nodes, running the very
 * configuration docs/OPERATIONS.md documents ("Several nodes behind nginx"): the block between its
 * {@code nginx-config:begin} and {@code nginx-config:end} markers is read from the document, and only
 * the node addresses, the listening ports and the certificate paths are replaced. Or in front of one
 * server, running the shipped {@code src/dist/nginx/parley.conf} the same way ({@link #startSingleNode}). A change to the
 * documented block is a change to what the test runs; a change the replacements no longer fit fails
 * here, loudly, rather than running something else.
 *
 * <p>Everything nginx writes (pid, logs, temp files, its certificate) is in the test's directory. It
 * runs in the foreground as one process ({@code daemon off; master_process off}), so no worker needs
 * another user's access to that directory, and it is this JVM's child: {@link #close()} stops it
 * (SIGTERM, then SIGKILL), and a shutdown hook does so if the JVM ends first. TLS uses a self-signed
 * certificate for 127.0.0.1 made with openssl; {@link #client()} trusts it.
 *
 * <p>Called from a test's thread only.
 */
public final class NginxProcess implements AutoCloseable {

    public static final Path BINARY = Path.of("/usr/sbin/nginx");
    public static final Path DOC = Path.of("docs", "OPERATIONS.md");
    /** The single-node configuration Parley ships (in the release archive too). */
    public static final Path SINGLE_NODE = Path.of("src", "dist", "nginx", "parley.conf");
    private static final String BEGIN = "<!-- nginx-config:begin";
    private static final String END = "<!-- nginx-config:end -->";
    private static final String SINGLE_BEGIN = "<!-- nginx-single-node:begin";
    private static final String SINGLE_END = "<!-- nginx-single-node:end -->";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

    private final Process process;
    private final Path dir;
    private final int tlsPort;
    private final int plainPort;
    private final HttpClient client;
    private final Path cert;
    private final Thread reaper = new Thread(this::stop, "nginx-reaper");

    private NginxProcess(Process process, Path dir, int tlsPort, int plainPort, HttpClient client, Path cert) {
        this.process = process;
        this.cert = cert;
        this.dir = dir;
        this.tlsPort = tlsPort;
        this.plainPort = plainPort;
        this.client = client;
    }

    /** Why nginx cannot run here (CI installs it, see .ci/run), or null when it can. */
    public static String unavailableReason() {
        return Files.isExecutable(BINARY) ? null : BINARY + " is not installed (.ci/run installs Debian's nginx)";
    }

    /**
     * The documented configuration's block, as docs/OPERATIONS.md holds it: what goes into
     * {@code conf.d/parley.conf}, inside nginx's {@code http} block.
     */
    public static String documentedBlock() throws IOException {
        return fencedBlock(BEGIN, END);
    }

    /** The single-node configuration as docs/OPERATIONS.md shows it: the same as {@link #SINGLE_NODE}. */
    public static String documentedSingleNodeBlock() throws IOException {
        return fencedBlock(SINGLE_BEGIN, SINGLE_END);
    }

    /** The one ```nginx fenced block between the markers {@code begin ...} and {@code end}. */
    private static String fencedBlock(String beginMarker, String endMarker) throws IOException {
        String doc = Files.readString(DOC);
        int begin = doc.indexOf(beginMarker);
        int end = doc.indexOf(endMarker);
        if (begin < 0 || end < begin || doc.indexOf(beginMarker, begin + 1) >= 0) {
            throw new IllegalStateException(DOC + " must hold exactly one nginx block between '" + beginMarker
                    + " ...' and '" + endMarker + "'");
        }
        String between = doc.substring(doc.indexOf('\n', begin) + 1, end);
        int open = between.indexOf("```nginx\n");
        int close = between.lastIndexOf("```");
        if (open < 0 || close <= open) {
            throw new IllegalStateException(DOC + ": the markers must enclose one ```nginx fenced block");
        }
        return between.substring(open + "```nginx\n".length(), close);
    }

    /**
     * The documented block with this machine's values: {@code upstreams} in place of the example
     * nodes (as many as the document lists), 127.0.0.1 and the given ports in place of 443 and 80, and
     * the test's certificate. Fails if the document no longer has what is replaced.
     */
    static String localize(String block, List<Integer> upstreams, int tlsPort, int plainPort, Path cert, Path key) {
        Matcher nodes = Pattern.compile("(?m)^(\\s*server\\s+)10\\.0\\.0\\.\\d+:8080\\b").matcher(block);
        StringBuilder out = new StringBuilder();
        int i = 0;
        while (nodes.find()) {
            if (i == upstreams.size()) {
                throw new IllegalStateException("the documented upstream lists more nodes than the test runs ("
                        + upstreams.size() + ")");
            }
            nodes.appendReplacement(out, Matcher.quoteReplacement(nodes.group(1) + "127.0.0.1:" + upstreams.get(i++)));
        }
        nodes.appendTail(out);
        if (i != upstreams.size()) {
            throw new IllegalStateException("the documented upstream lists " + i + " nodes (server 10.0.0.N:8080), the test runs "
                    + upstreams.size());
        }
        return localServers(out.toString(), tlsPort, plainPort, cert, key);
    }

    /** 127.0.0.1 and the given ports in place of 443 and 80, and the test's certificate. */
    private static String localServers(String conf, int tlsPort, int plainPort, Path cert, Path key) {
        String local = replaceOnce(conf, "listen 443 ssl;", "listen 127.0.0.1:" + tlsPort + " ssl;");
        local = replaceOnce(local, "listen 80;", "listen 127.0.0.1:" + plainPort + ";");
        local = replaceOnce(local, "/etc/letsencrypt/live/chat.example.com/fullchain.pem", cert.toString());
        return replaceOnce(local, "/etc/letsencrypt/live/chat.example.com/privkey.pem", key.toString());
    }

    private static String replaceOnce(String text, String documented, String local) {
        int at = text.indexOf(documented);
        if (at < 0 || text.indexOf(documented, at + 1) >= 0) {
            throw new IllegalStateException("the documented nginx block must contain '" + documented
                    + "' exactly once; the test replaces it with '" + local + "'");
        }
        return text.substring(0, at) + local + text.substring(at + documented.length());
    }

    /**
     * The shipped single-node configuration, {@code src/dist/nginx/parley.conf}, with this machine's
     * values: 127.0.0.1:{@code upstream} for Parley's address, 127.0.0.1 and the given ports in place
     * of 443 and 80, and the test's certificate. Fails if the file no longer has what is replaced.
     */
    static String localizeSingleNode(String conf, int upstream, int tlsPort, int plainPort, Path cert, Path key) {
        String local = replaceOnce(conf, "server 127.0.0.1:8080;", "server 127.0.0.1:" + upstream + ";");
        return localServers(local, tlsPort, plainPort, cert, key);
    }

    /** What goes into conf.d/parley.conf, given the ports and certificate an attempt uses. */
    private interface Config {
        String write(int tlsPort, int plainPort, Path cert, Path key) throws IOException;
    }

    /** Starts nginx on free ports of 127.0.0.1 in front of the nodes listening on {@code upstreams}. */
    public static NginxProcess start(Path dir, List<Integer> upstreams) throws Exception {
        return start(dir, 0, (tlsPort, plainPort, cert, key) ->
                localize(documentedBlock(), upstreams, tlsPort, plainPort, cert, key));
    }

    /**
     * Starts nginx on 127.0.0.1 with the shipped single-node configuration ({@link #SINGLE_NODE}) in
     * front of one server listening on {@code upstream}: its TLS server on {@code tlsPort} (0: any free
     * port; a server whose --public-url names nginx's address needs it chosen first, see
     * {@link FreePorts}), the redirecting one on any free port. {@code edit} gets the file as shipped
     * and returns what to run instead (the identity for the file as it is), for a test of a
     * configuration someone got wrong; it must keep what {@link #localizeSingleNode} replaces.
     */
    public static NginxProcess startSingleNode(Path dir, int upstream, int tlsPort, UnaryOperator<String> edit)
            throws Exception {
        String conf = edit.apply(Files.readString(SINGLE_NODE));
        return start(dir, tlsPort, (tls, plainPort, cert, key) -> localizeSingleNode(conf, upstream, tls, plainPort, cert, key));
    }

    private static NginxProcess start(Path dir, int tlsPort, Config config) throws Exception {
        Files.createDirectories(dir);
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        makeCertificate(cert, key);
        for (int attempt = 1; ; attempt++) {
            try {
                return start(dir, tlsPort, config, cert, key);
            } catch (PortTaken e) {
                // A free port was taken between finding it and nginx binding it; try others.
                if (attempt == 3) {
                    throw new IllegalStateException(e.getMessage());
                }
            }
        }
    }

    /** nginx could not bind a port found free a moment before. */
    private static final class PortTaken extends Exception {
        PortTaken(String log) {
            super("nginx could not bind its ports: " + log);
        }
    }

    private static NginxProcess start(Path dir, int fixedTlsPort, Config config, Path cert, Path key) throws Exception {
        // A fresh log per attempt, so that only this attempt's failure is read as a taken port.
        Files.deleteIfExists(dir.resolve("error.log"));
        Files.deleteIfExists(dir.resolve("nginx.out"));
        int tlsPort = fixedTlsPort != 0 ? fixedTlsPort : freePort();
        int plainPort = freePort();
        Files.writeString(dir.resolve("parley.conf"), config.write(tlsPort, plainPort, cert, key));
        // The rest of what Debian's nginx.conf sets around conf.d, with every path in dir.
        Files.writeString(dir.resolve("nginx.conf"), """
                daemon off;
                master_process off;
                pid %1$s/nginx.pid;
                error_log %1$s/error.log info;
                events {
                    worker_connections 1024;
                }
                http {
                    log_format upstream '$remote_addr "$request" $status upstream=$upstream_addr';
                    access_log %1$s/access.log upstream;
                    client_body_temp_path %1$s/client_body;
                    proxy_temp_path %1$s/proxy;
                    fastcgi_temp_path %1$s/fastcgi;
                    uwsgi_temp_path %1$s/uwsgi;
                    scgi_temp_path %1$s/scgi;
                    include %1$s/parley.conf;
                }
                """.formatted(dir.toAbsolutePath()));
        Process process = new ProcessBuilder(BINARY.toString(), "-p", dir.toAbsolutePath() + "/",
                "-c", dir.resolve("nginx.conf").toAbsolutePath().toString(),
                "-e", dir.resolve("error.log").toAbsolutePath().toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("nginx.out").toFile()).start();
        HttpClient client = HttpClient.newBuilder().sslContext(trusting(cert)).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5)).build();
        NginxProcess nginx = new NginxProcess(process, dir, tlsPort, plainPort, client, cert);
        Runtime.getRuntime().addShutdownHook(nginx.reaper);
        nginx.awaitServing();
        return nginx;
    }

    /** Until nginx answers /healthz over TLS with a node's 200: it is up and reaches the nodes. */
    private void awaitServing() throws Exception, PortTaken {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        String last = "no answer";
        while (System.nanoTime() < deadline && process.isAlive()) {
            try {
                HttpResponse<String> health = client.send(HttpRequest.newBuilder(https("/healthz"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                if (health.statusCode() == 200) {
                    return;
                }
                last = health.statusCode() + " " + health.body();
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            Thread.sleep(50);
        }
        close();
        if (!process.isAlive() && log().contains("Address already in use")) {
            throw new PortTaken(log());
        }
        throw new IllegalStateException("nginx did not serve /healthz (" + last + "); its output and error log:\n" + log());
    }

    private static void makeCertificate(Path cert, Path key) throws Exception {
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", key.toString(), "-out", cert.toString())
                .redirectErrorStream(true).redirectOutput(cert.resolveSibling("openssl.out").toFile()).start();
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0 || !Files.exists(cert)) {
            p.destroyForcibly();
            throw new IllegalStateException("openssl could not make a test certificate: "
                    + Files.readString(cert.resolveSibling("openssl.out")));
        }
    }

    private static SSLContext trusting(Path cert) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(cert)) {
            trust.setCertificateEntry("nginx", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static int freePort() throws IOException {
        try (ServerSocket free = new ServerSocket(0)) {
            return free.getLocalPort();
        }
    }

    /** An HTTP client that trusts this nginx's certificate, speaking HTTP/1.1 as browsers' WebSockets do. */
    public HttpClient client() {
        return client;
    }

    /** https://127.0.0.1:port + path, through nginx's TLS server. */
    public URI https(String pathAndQuery) {
        return URI.create("https://127.0.0.1:" + tlsPort + pathAndQuery);
    }

    /** wss://127.0.0.1:port/chat through nginx. */
    public URI chatUri() {
        return URI.create("wss://127.0.0.1:" + tlsPort + "/chat");
    }

    /** http://127.0.0.1:port + path: the plain server block, which only redirects. */
    public URI plainHttp(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + plainPort + pathAndQuery);
    }

    /**
     * The base64 SHA-256 of the test certificate's public key (its SubjectPublicKeyInfo): what
     * Chromium's {@code --ignore-certificate-errors-spki-list} takes to trust this certificate, and
     * no other, without a system trust store.
     */
    public String certificateKeyHash() throws Exception {
        try (InputStream in = Files.newInputStream(cert)) {
            byte[] spki = CertificateFactory.getInstance("X.509").generateCertificate(in).getPublicKey().getEncoded();
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256").digest(spki));
        }
    }

    public Path directory() {
        return dir;
    }

    /** nginx's output, error log and access log (one line per request, with the node it went to). */
    public String log() {
        StringBuilder out = new StringBuilder();
        for (String name : List.of("nginx.out", "error.log", "access.log")) {
            Path file = dir.resolve(name);
            try {
                if (Files.exists(file)) {
                    out.append("--- ").append(name).append('\n').append(Files.readString(file));
                }
            } catch (IOException e) {
                out.append("--- ").append(name).append(": ").append(e).append('\n');
            }
        }
        return out.toString();
    }

    private void stop() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Stops nginx: SIGTERM (nginx's fast shutdown), SIGKILL if it is still there after 5 s. */
    @Override
    public void close() {
        stop();
        try {
            Runtime.getRuntime().removeShutdownHook(reaper);
        } catch (IllegalStateException shuttingDown) {
            // The hook is running or about to; it stops nothing twice.
        }
    }
}
