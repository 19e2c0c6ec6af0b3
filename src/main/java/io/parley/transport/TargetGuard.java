package io.parley.transport;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.parley.chat.ChatException;
import io.parley.chat.ErrorCode;
import io.parley.config.Networks;
import io.parley.protocol.ProtocolCodec;

/**
 * The first look at every whole HTTP request, before any route: is it addressed to this server, and
 * can its target be read at all?
 * <ul>
 *   <li>With a public URL ({@code --public-url}), a {@code Host} other than its host[:port] (from a
 *       trusted proxy, a forwarded host other than that: {@link Addressed}) is answered
 *       {@code 421 Misdirected Request}, on every route: a page that DNS rebinding has pointed at this
 *       server's address names its own host, and must neither open a WebSocket (its {@code Origin}
 *       matches that {@code Host}) nor read the API or the page. {@code /healthz} and {@code /metrics}
 *       are spared: health checks and scrapers address the server by its IP, the one tells nothing,
 *       and the other is served only to the {@code --metrics-from} networks.</li>
 *   <li>A target whose path or query is not valid percent-encoding ({@code ?since=%zz}) is answered
 *       {@code 400}, so that no route meets a decoder's exception and answers 500 with a stack trace
 *       in the log.</li>
 * </ul>
 * Both refusals are the client's mistake or the client's attack, so neither is logged. Under {@code /api}
 * they are the protocol's JSON errors ({@code bad_request}, {@code misdirected}); elsewhere, plain text.
 * The connection is closed after either: answering at once can overtake a pipelined request still being
 * answered, and a client that sends such requests needs no second chance.
 *
 * <p>Shared by all connections (it keeps no state); runs on each connection's event loop.
 */
@ChannelHandler.Sharable
final class TargetGuard extends SimpleChannelInboundHandler<FullHttpRequest> {

    private final OriginPolicy origins;
    private final ProtocolCodec codec;
    private final Networks proxies;

    TargetGuard(OriginPolicy origins, ProtocolCodec codec, Networks proxies) {
        super(false);
        this.origins = origins;
        this.codec = codec;
        this.proxies = proxies;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (request.decoderResult().isFailure()) {
            // The routes answer a request the decoder could not read with 400 of their own.
            ctx.fireChannelRead(request);
            return;
        }
        String path = decodedPath(request.uri());
        FullHttpResponse refusal;
        if (path == null) {
            refusal = refuse(request, HttpResponseStatus.BAD_REQUEST, ErrorCode.BAD_REQUEST,
                    "the request target is not valid percent-encoded UTF-8");
        } else if (!origins.addressedHere(Addressed.of(ctx.channel(), request.headers(), proxies)) && !spared(path)) {
            refusal = refuse(request, HttpResponseStatus.MISDIRECTED_REQUEST, ErrorCode.MISDIRECTED,
                    "this server does not serve that host: use the address its operator published");
        } else {
            ctx.fireChannelRead(request);
            return;
        }
        Responses.send(ctx, request, refusal, false);
        request.release();
    }

    private static boolean spared(String path) {
        return path.equals("/healthz") || path.equals("/metrics");
    }

    /** The decoded path, or null if the path or the query is not valid percent-encoding. */
    private static String decodedPath(String uri) {
        try {
            QueryStringDecoder target = new QueryStringDecoder(uri);
            target.parameters();
            return target.path();
        } catch (IllegalArgumentException e) {
            // Netty's message quotes the whole target, a token in it included: dropped, never logged.
            return null;
        }
    }

    private FullHttpResponse refuse(FullHttpRequest request, HttpResponseStatus status, ErrorCode code, String why) {
        if (request.uri().startsWith(ApiRoutes.PREFIX)) {
            return ApiRoutes.json(status, codec.error(new ChatException(code, why), null, null, null, null));
        }
        return Responses.text(status, why.substring(0, 1).toUpperCase() + why.substring(1) + ".");
    }
}
