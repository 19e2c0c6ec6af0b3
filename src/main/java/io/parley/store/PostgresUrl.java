package io.parley.store;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a PostgreSQL history lives, as given to {@code --postgres-url}: either the libpq form
 * {@code postgresql://user:pass@host:5432/db?sslmode=require} that operators copy from their provider,
 * or the driver's own {@code jdbc:postgresql://host/db?user=..&password=..}.
 *
 * <p>Both become a JDBC URL without credentials plus the user and password apart, so that the password
 * is handed to the driver and never appears in a URL that a pool, a log line or {@link #toString} prints.
 * Built once, by {@code ServeCommand} (or a test); immutable.
 *
 * @param jdbcUrl  {@code jdbc:postgresql://...} without user or password
 * @param user     the role to log in as, or null for the driver's default
 * @param password its password, or null
 */
public record PostgresUrl(String jdbcUrl, String user, String password) {

    private static final String JDBC = "jdbc:postgresql:";

    public PostgresUrl {
        if (jdbcUrl == null || !jdbcUrl.startsWith(JDBC)) {
            throw new IllegalArgumentException("a PostgreSQL JDBC URL starts with " + JDBC);
        }
    }

    /**
     * Reads either form. Throws IllegalArgumentException, with a message that never repeats the
     * password, when it is neither.
     */
    public static PostgresUrl parse(String url) {
        String s = url.strip();
        if (s.startsWith(JDBC)) {
            return fromJdbc(s);
        }
        if (s.startsWith("postgresql://") || s.startsWith("postgres://")) {
            return fromLibpq(s);
        }
        throw new IllegalArgumentException("the PostgreSQL URL must start with postgresql:// or jdbc:postgresql:");
    }

    private static PostgresUrl fromLibpq(String s) {
        URI uri;
        try {
            uri = new URI(s);
        } catch (URISyntaxException e) {
            // The reason names the offending index, not the text, which may hold the password.
            throw new IllegalArgumentException("the PostgreSQL URL is malformed at character " + e.getIndex()
                    + " (percent-encode @, : and / in the user or password)");
        }
        if (uri.getHost() == null) {
            throw new IllegalArgumentException("the PostgreSQL URL names no host");
        }
        String user = null;
        String password = null;
        String info = uri.getRawUserInfo();
        if (info != null) {
            int colon = info.indexOf(':');
            user = percentDecode(colon < 0 ? info : info.substring(0, colon));
            password = colon < 0 ? null : percentDecode(info.substring(colon + 1));
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        String database = path.startsWith("/") ? path.substring(1) : path;
        StringBuilder jdbc = new StringBuilder(JDBC).append("//").append(uri.getHost());
        if (uri.getPort() >= 0) {
            jdbc.append(':').append(uri.getPort());
        }
        jdbc.append('/').append(database);
        List<String> params = new ArrayList<>();
        if (uri.getRawQuery() != null) {
            for (String p : uri.getRawQuery().split("&")) {
                String key = p.contains("=") ? p.substring(0, p.indexOf('=')) : p;
                if (key.equals("user") && user == null) {
                    user = percentDecode(p.substring(p.indexOf('=') + 1));
                } else if (key.equals("password") && password == null) {
                    password = percentDecode(p.substring(p.indexOf('=') + 1));
                } else if (!p.isEmpty() && !key.equals("user") && !key.equals("password")) {
                    params.add(p);
                }
            }
        }
        if (!params.isEmpty()) {
            jdbc.append('?').append(String.join("&", params));
        }
        return new PostgresUrl(jdbc.toString(), user, password);
    }

    private static PostgresUrl fromJdbc(String s) {
        int q = s.indexOf('?');
        if (q < 0) {
            return new PostgresUrl(s, null, null);
        }
        String user = null;
        String password = null;
        List<String> params = new ArrayList<>();
        for (String p : s.substring(q + 1).split("&")) {
            int eq = p.indexOf('=');
            String key = eq < 0 ? p : p.substring(0, eq);
            String value = eq < 0 ? "" : percentDecode(p.substring(eq + 1));
            switch (key) {
                case "user" -> user = value;
                case "password" -> password = value;
                default -> {
                    if (!p.isEmpty()) {
                        params.add(p);
                    }
                }
            }
        }
        String base = s.substring(0, q);
        return new PostgresUrl(params.isEmpty() ? base : base + "?" + String.join("&", params), user, password);
    }

    /** RFC 3986 percent-decoding; unlike URLDecoder, a '+' stays a '+'. */
    private static String percentDecode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length());
        int i = 0;
        while (i < s.length()) {
            int hi = i + 2 < s.length() && s.charAt(i) == '%' ? Character.digit(s.charAt(i + 1), 16) : -1;
            int lo = hi >= 0 ? Character.digit(s.charAt(i + 2), 16) : -1;
            if (lo >= 0) {
                out.write(hi * 16 + lo);
                i += 3;
            } else {
                int cp = s.codePointAt(i);
                out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
                i += Character.charCount(cp);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** The URL as it may be shown: user, host and database, never the password. */
    @Override
    public String toString() {
        return jdbcUrl + (user == null ? "" : " as " + user) + (password == null ? "" : " (password set)");
    }
}
