package io.parley.transport;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.cors.CorsConfig;
import io.netty.handler.codec.http.cors.CorsConfigBuilder;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which browser pages may open a WebSocket to this server: the defence against cross-site WebSocket
 * hijacking, where a page on another site opens a socket with the visitor's cookies.
 *
 * <p>Allowed: the server's own origin (the host the browser addressed, as the {@code Host} header
 * carries it, over either scheme, since a TLS-terminating proxy may sit in front), every origin on the
 * configured list, and any origin if the list holds {@code *}. A request without {@code Origin} is not
 * from a browser page and is allowed: such a client can send any header it likes anyway.
 *
 * <p>The same list says which sites may show the browser client in a frame (CSP
 * {@code frame-ancestors}): none unless origins are configured, so that nobody can overlay the page to
 * trick a click out of its user.
 */
final class OriginPolicy {

    private final boolean anyOrigin;
    private final Set<String> allowed;
    /**
     * The listed origins that are origins, sorted. Normalised, they are scheme://host[:port]: nothing in
     * them can end or add a CSP directive.
     */
    private final List<String> sites;

    OriginPolicy(List<String> allowedOrigins) {
        this.anyOrigin = allowedOrigins.contains("*");
        this.allowed = allowedOrigins.stream().map(OriginPolicy::normalize).collect(Collectors.toUnmodifiableSet());
        this.sites = allowed.stream().filter(o -> !o.isEmpty()).sorted().toList();
    }

    /** The CSP {@code frame-ancestors} sources: {@code 'none'}, {@code *}, or the server and the listed origins. */
    String frameAncestors() {
        if (anyOrigin) {
            return "*";
        }
        return sites.isEmpty() ? "'none'" : "'self' " + String.join(" ", sites);
    }

    /**
     * What a page on an allowed origin may do with the HTTP API from the browser: GET and POST with a
     * token, a JSON body and a guest name, reading {@code Retry-After}. Null when no origin is allowed:
     * the server's own pages need no CORS.
     */
    CorsConfig cors() {
        if (!anyOrigin && sites.isEmpty()) {
            return null;
        }
        CorsConfigBuilder builder = anyOrigin ? CorsConfigBuilder.forAnyOrigin()
                : CorsConfigBuilder.forOrigins(sites.toArray(String[]::new));
        return builder.allowedRequestMethods(HttpMethod.GET, HttpMethod.POST)
                .allowedRequestHeaders(HttpHeaderNames.AUTHORIZATION, HttpHeaderNames.CONTENT_TYPE, ApiRoutes.GUEST_NAME)
                .exposeHeaders(HttpHeaderNames.RETRY_AFTER)
                .maxAge(600)
                .build();
    }

    boolean allows(String origin, String host) {
        if (origin == null || anyOrigin) {
            return true;
        }
        String normalized = normalize(origin);
        if (allowed.contains(normalized)) {
            return true;
        }
        if (host == null || normalized.isEmpty()) {
            return false;
        }
        return normalized.equals(normalize("http://" + host)) || normalized.equals(normalize("https://" + host));
    }

    /** scheme://host[:port] in lower case, without a default port; empty if it is not such a thing. */
    static String normalize(String origin) {
        try {
            URI uri = new URI(origin.trim());
            String scheme = uri.getScheme();
            String host = uri.getHost();
            if (scheme == null || host == null) {
                return "";
            }
            scheme = scheme.toLowerCase(Locale.ROOT);
            int port = uri.getPort();
            boolean defaultPort = port == -1 || port == 80 && scheme.equals("http") || port == 443 && scheme.equals("https");
            return scheme + "://" + host.toLowerCase(Locale.ROOT) + (defaultPort ? "" : ":" + port);
        } catch (Exception e) {
            return "";
        }
    }
}
