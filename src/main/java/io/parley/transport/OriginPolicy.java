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
 * <p>Allowed: the server's own origin, every origin on the configured list, and any origin if the list
 * holds {@code *}. The own origin is the public URL's when one is configured; without one it is the
 * address the browser used ({@link Addressed}): the host the {@code Host} header carries, over either
 * scheme (a TLS-terminating proxy may sit in front), or, from a trusted proxy, the host and scheme it
 * forwards. That fallback trusts {@code Host}, which DNS rebinding lets a foreign page choose: with a
 * public URL, {@link #addressedHere} refuses every other host too. A request without {@code Origin} is
 * not from a browser page and is allowed: such a client can send any header it likes anyway.
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
    /** The public URL's origin, normalised; null when none is configured. */
    private final String publicOrigin;
    /**
     * The {@code Host} values that address this server, lower case: the public URL's host[:port], and
     * with the scheme's default port spelled out. Null when no public URL is configured: any Host.
     */
    private final Set<String> publicHosts;

    OriginPolicy(List<String> allowedOrigins, URI publicUrl) {
        this.anyOrigin = allowedOrigins.contains("*");
        this.allowed = allowedOrigins.stream().map(OriginPolicy::normalize).collect(Collectors.toUnmodifiableSet());
        this.sites = allowed.stream().filter(o -> !o.isEmpty()).sorted().toList();
        this.publicOrigin = publicUrl == null ? null : normalize(publicUrl.toString());
        if (publicUrl == null) {
            this.publicHosts = null;
        } else {
            String host = publicUrl.getHost().toLowerCase(Locale.ROOT);
            int defaultPort = publicUrl.getScheme().equalsIgnoreCase("https") ? 443 : 80;
            int port = publicUrl.getPort() == -1 ? defaultPort : publicUrl.getPort();
            this.publicHosts = port == defaultPort ? Set.of(host, host + ":" + port) : Set.of(host + ":" + port);
        }
    }

    /**
     * Whether the host a request addressed names this server: always without a public URL; with one,
     * only its host[:port]. Compared as text, never parsed, so that nothing such as {@code host@evil} or
     * {@code host/path} can pass as the right host.
     */
    boolean addressedHere(Addressed request) {
        String host = request.host();
        return publicHosts == null || host != null && publicHosts.contains(host.trim().toLowerCase(Locale.ROOT));
    }

    /**
     * The CSP {@code connect-src} sources: where the browser client may open connections. {@code 'self'}
     * covers the page's own origin and, in CSP Level 3, its ws:/wss: form (Chromium and Firefox follow
     * that; BrowserClientTest shows it in Chromium). The public URL's WebSocket form is spelled out for
     * browsers that predate it, and the listed origins (their WebSocket form too) for a page that talks
     * to a sibling server. {@code *} on the list adds nothing: it says who may connect here, not where
     * this page may connect.
     */
    String connectSources() {
        StringBuilder sources = new StringBuilder("'self'");
        if (publicOrigin != null && !publicOrigin.isEmpty()) {
            sources.append(' ').append(webSocketForm(publicOrigin));
        }
        for (String site : sites) {
            sources.append(' ').append(site);
            if (site.startsWith("http")) {
                sources.append(' ').append(webSocketForm(site));
            }
        }
        return sources.toString();
    }

    /** ws://host[:port] for http://host[:port], wss:// for https://. */
    private static String webSocketForm(String httpOrigin) {
        return httpOrigin.startsWith("https://") ? "wss://" + httpOrigin.substring("https://".length())
                : "ws://" + httpOrigin.substring("http://".length());
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
        return builder.allowedRequestMethods(HttpMethod.GET, HttpMethod.POST, HttpMethod.PATCH, HttpMethod.DELETE)
                .allowedRequestHeaders(HttpHeaderNames.AUTHORIZATION, HttpHeaderNames.CONTENT_TYPE, ApiRoutes.GUEST_NAME)
                .exposeHeaders(HttpHeaderNames.RETRY_AFTER)
                .maxAge(600)
                .build();
    }

    /**
     * Whether a page on {@code origin} may use this server, addressed as {@code request} says. With the
     * scheme known (a trusted proxy forwarded it), the own origin is that scheme's only.
     */
    boolean allows(String origin, Addressed request) {
        String host = request.host();
        if (origin == null || anyOrigin) {
            return true;
        }
        String normalized = normalize(origin);
        if (allowed.contains(normalized)) {
            return true;
        }
        if (normalized.isEmpty()) {
            return false;
        }
        if (publicOrigin != null) {
            return normalized.equals(publicOrigin);
        }
        if (host == null) {
            return false;
        }
        if (request.scheme() != null) {
            return normalized.equals(normalize(request.scheme() + "://" + host));
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
