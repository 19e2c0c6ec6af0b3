package io.parley.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A self-signed EC certificate for 127.0.0.1, made by openssl (as an operator would make one), for a
 * server started with {@code --tls-cert}/{@code --tls-key}, and the trust its clients need: an
 * {@link SSLContext} for clients in the test JVM, a PKCS#12 trust store for a child JVM.
 */
public record TestCertificate(Path cert, Path key) {

    /** Makes one in {@code dir}; null when openssl is missing or fails (the caller skips its test). */
    public static TestCertificate makeIn(Path dir) throws InterruptedException {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        try {
            Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key.toString(), "-out", cert.toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            boolean made = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 && Files.exists(cert);
            p.destroyForcibly();
            return made ? new TestCertificate(cert, key) : null;
        } catch (IOException noOpenssl) {
            return null;
        }
    }

    /** A TLS context that trusts this certificate only. */
    public SSLContext trusting() throws Exception {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trustStore());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    /**
     * Writes a PKCS#12 trust store holding this certificate to {@code file}, for a child JVM's
     * {@code -Djavax.net.ssl.trustStore} (with {@code trustStorePassword} {@code password}).
     */
    public Path writeTrustStore(Path file, String password) throws Exception {
        try (OutputStream out = Files.newOutputStream(file)) {
            trustStore().store(out, password.toCharArray());
        }
        return file;
    }

    private KeyStore trustStore() throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(cert)) {
            Certificate certificate = CertificateFactory.getInstance("X.509").generateCertificate(in);
            trust.setCertificateEntry("parley", certificate);
        }
        return trust;
    }
}
