package io.parley.transport;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.AttributeKey;
import io.parley.auth.Identity;
import io.parley.config.Networks;

import java.util.Base64;

/**
 * Checks a request for {@code /chat} before Netty's handshaker sees it, and answers what is wrong with
 * it in plain HTTP: 503 when the operator turned WebSocket off, 405 for a method other than GET, 426
 * for a request that is not a WebSocket upgrade or asks for another protocol version, 400 for a
 * malformed handshake, 403 for a browser page from an origin that is not allowed, 401 for a missing
 * (where required), invalid or expired token. A request that passes goes on, its path stripped of any
 * query (and so of a token in it), to {@code WebSocketServerProtocolHandler}, and the identity it
 * proved is left on the channel for {@link ChatSocket}. Requests for other paths pass untouched.
 *
 * <p>Runs on the connection's event loop; removed from the pipeline once the connection is upgraded.
 */
final class UpgradeGuard extends SimpleChannelInboundHandler<FullHttpRequest> {

    static final String PATH = "/chat";

    /** The user a token proved at the handshake; absent for a guest. */
    static final AttributeKey<Identity> IDENTITY = AttributeKey.valueOf("parley.identity");

    private final OriginPolicy origins;
    private final Authenticator authenticator;
    private final boolean webSocket;
    private final Networks proxies;

    UpgradeGuard(OriginPolicy origins, Authenticator authenticator, boolean webSocket, Networks proxies) {
        super(false);
        this.proxies = proxies;
        this.origins = origins;
        this.authenticator = authenticator;
        this.webSocket = webSocket;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (!new QueryStringDecoder(request.uri()).path().equals(PATH)) {
            ctx.fireChannelRead(request);
            return;
        }
        FullHttpResponse refusal = check(ctx, request);
        if (refusal == null) {
            switch (authenticator.authenticate(request, true)) {
                case Authenticator.User user -> ctx.channel().attr(IDENTITY).set(user.identity());
                case Authenticator.Guest guest -> { }
                case Authenticator.Refused refused -> refusal = Responses.unauthorized(refused.reason());
            }
        }
        if (refusal != null) {
            Responses.send(ctx, request, refusal);
            request.release();
            return;
        }
        request.setUri(PATH);
        ctx.fireChannelRead(request);
    }

    private FullHttpResponse check(ChannelHandlerContext ctx, FullHttpRequest request) {
        var headers = request.headers();
        if (!webSocket) {
            return Responses.text(HttpResponseStatus.SERVICE_UNAVAILABLE, "WebSocket is turned off on this "
                    + "server; use the HTTP API under /api (long polling).");
        }
        if (!request.method().equals(HttpMethod.GET)) {
            FullHttpResponse r = Responses.text(HttpResponseStatus.METHOD_NOT_ALLOWED, "/chat takes GET only.");
            r.headers().set(HttpHeaderNames.ALLOW, "GET");
            return r;
        }
        if (!headers.containsValue(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET, true)) {
            FullHttpResponse r = Responses.text(HttpResponseStatus.UPGRADE_REQUIRED,
                    "/chat is a WebSocket endpoint (RFC 6455): send 'Upgrade: websocket' and "
                            + "'Connection: Upgrade', or open the page at / in a browser.");
            r.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
            return r;
        }
        if (!headers.containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)) {
            return Responses.text(HttpResponseStatus.BAD_REQUEST, "A WebSocket handshake needs 'Connection: Upgrade'.");
        }
        if (!headers.contains(HttpHeaderNames.HOST)) {
            return Responses.text(HttpResponseStatus.BAD_REQUEST, "A WebSocket handshake needs a Host header.");
        }
        String version = headers.get(HttpHeaderNames.SEC_WEBSOCKET_VERSION);
        if (!"13".equals(version == null ? null : version.trim())) {
            FullHttpResponse r = Responses.text(HttpResponseStatus.UPGRADE_REQUIRED,
                    "Parley speaks WebSocket version 13 (RFC 6455) only.");
            r.headers().set(HttpHeaderNames.SEC_WEBSOCKET_VERSION, "13");
            r.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
            return r;
        }
        if (!validKey(headers.get(HttpHeaderNames.SEC_WEBSOCKET_KEY))) {
            return Responses.text(HttpResponseStatus.BAD_REQUEST,
                    "Sec-WebSocket-Key must be the base64 encoding of 16 random bytes.");
        }
        if (!origins.allows(headers.get(HttpHeaderNames.ORIGIN), Addressed.of(ctx.channel(), headers, proxies))) {
            return Responses.text(HttpResponseStatus.FORBIDDEN,
                    "Origin not allowed. The server's operator can add it with --allowed-origin.");
        }
        return null;
    }

    private static boolean validKey(String key) {
        if (key == null) {
            return false;
        }
        try {
            return Base64.getDecoder().decode(key.trim()).length == 16;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
