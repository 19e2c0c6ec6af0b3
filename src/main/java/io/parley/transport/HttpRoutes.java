package io.parley.transport;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.parley.config.Networks;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * Every plain HTTP route, declared here and nowhere else:
 * <ul>
 *   <li>{@code GET /healthz}: 200 while the server is serving;</li>
 *   <li>{@code GET /metrics}: Prometheus text format ({@link ServerMetrics}), to the {@code --metrics-from}
 *       networks only (403 for others);</li>
 *   <li>{@code GET /} and {@code GET /<file>}: the browser client;</li>
 *   <li>anything else: 404 (405 for a method other than GET and HEAD).</li>
 * </ul>
 * {@code /chat} never gets here: {@link UpgradeGuard} and Netty's handshaker take it; nor does
 * {@code /api}, which {@link ApiRoutes} serves.
 *
 * <p>Shared by all connections (it keeps no state); runs on each connection's event loop.
 */
@ChannelHandler.Sharable
final class HttpRoutes extends SimpleChannelInboundHandler<FullHttpRequest> {

    /**
     * The page may talk only to this server (and the configured origins); user text can never become
     * script; only the configured origins may frame it.
     */
    private static final String CSP = "default-src 'self'; connect-src %s; img-src 'self' data:; "
            + "style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors %s";
    private static final byte[] HEALTHY = "{\"status\":\"ok\"}\n".getBytes(StandardCharsets.UTF_8);

    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

    private final StaticFiles files;
    private final ServerMetrics metrics;
    private final String contentSecurityPolicy;
    private final Networks metricsFrom;
    private final Networks proxies;

    HttpRoutes(StaticFiles files, ServerMetrics metrics, OriginPolicy origins, Networks metricsFrom, Networks proxies) {
        this.files = files;
        this.metrics = metrics;
        this.contentSecurityPolicy = CSP.formatted(origins.connectSources(), origins.frameAncestors());
        this.metricsFrom = metricsFrom;
        this.proxies = proxies;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        Responses.send(ctx, request, route(ctx, request));
    }

    private FullHttpResponse route(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (!request.method().equals(HttpMethod.GET) && !request.method().equals(HttpMethod.HEAD)) {
            FullHttpResponse r = Responses.text(HttpResponseStatus.METHOD_NOT_ALLOWED, "Only GET and HEAD are served here.");
            r.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
            return r;
        }
        String path = new QueryStringDecoder(request.uri()).path();
        if (path.equals("/healthz")) {
            return Responses.bytes(HttpResponseStatus.OK, "application/json", HEALTHY);
        }
        if (path.equals("/metrics")) {
            if (!mayReadMetrics(ctx, request)) {
                return Responses.text(HttpResponseStatus.FORBIDDEN,
                        "/metrics is served only to the networks the server's --metrics-from names.");
            }
            return Responses.bytes(HttpResponseStatus.OK, PROMETHEUS_TEXT,
                    metrics.scrape().getBytes(StandardCharsets.UTF_8));
        }
        StaticFiles.File file = files.get(path);
        if (file == null) {
            return Responses.text(HttpResponseStatus.NOT_FOUND, "Not found: " + path);
        }
        FullHttpResponse r = Responses.bytes(HttpResponseStatus.OK, file.contentType(), file.body());
        r.headers().set("Content-Security-Policy", contentSecurityPolicy)
                .set("Referrer-Policy", "no-referrer");
        return r;
    }

    /**
     * Whether the request comes from a network that may read the metrics: its peer, or, from a trusted
     * proxy, the client the proxy names (a proxy on this machine must not open them to everyone).
     */
    private boolean mayReadMetrics(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (!(ctx.channel().remoteAddress() instanceof InetSocketAddress peer)) {
            return false;
        }
        return metricsFrom.contains(Admission.client(peer.getAddress(), request.headers(), proxies));
    }
}
