package io.parley.transport;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateHandler;
import io.parley.config.ServerConfig;
import io.parley.engine.LocalBroker;
import io.parley.protocol.ProtocolCodec;

import java.util.concurrent.TimeUnit;

/**
 * The whole data path of a connection, in order from the socket inwards. Read top to bottom:
 * <pre>
 *   tls          SslHandler, only with --tls-cert/--tls-key
 *   flush        FlushConsolidationHandler: replies written while reading a burst of requests leave
 *                in one write (fan-out bursts are coalesced by ChatSocket's own deferred flush)
 *   keep-alive   IdleStateHandler: closes silent HTTP connections; after the upgrade, pings and
 *                closes silent WebSocket clients
 *   http         HttpServerCodec: bytes to HTTP requests (until the upgrade replaces it)
 *   aggregate    HttpObjectAggregator: one FullHttpRequest per request
 *   guard        UpgradeGuard: refuses bad handshakes to /chat with 426/400/403/405
 *   websocket    WebSocketServerProtocolHandler: the RFC 6455 handshake, then frames, close, ping/pong,
 *                size limit (1009), protocol violations (1002), UTF-8 validation (1007)
 *   fragments    WebSocketFrameAggregator: continuation frames into one message, within the limit
 *   routes       HttpRoutes: /healthz and the browser client (plain HTTP only)
 *   chat         ChatSocket: text frames to the protocol; the connection's outbound side
 * </pre>
 * After the upgrade ChatSocket removes guard and routes and replaces the keep-alive with the
 * WebSocket one. It sits next to the socket, where every byte read counts as activity.
 */
final class ChatChannelInitializer extends ChannelInitializer<SocketChannel> {

    /** Requests to this server have no bodies worth more than this. */
    private static final int MAX_HTTP_REQUEST = 16 * 1024;

    private final ServerConfig config;
    private final SslContext tls;
    private final LocalBroker broker;
    private final ProtocolCodec codec;
    private final ChannelGroup sockets;
    private final OriginPolicy origins;
    private final HttpRoutes routes;
    private final WebSocketServerProtocolConfig websocket;

    ChatChannelInitializer(ServerConfig config, SslContext tls, LocalBroker broker, ProtocolCodec codec,
                           ChannelGroup sockets, StaticFiles files) {
        this.config = config;
        this.tls = tls;
        this.broker = broker;
        this.codec = codec;
        this.sockets = sockets;
        this.origins = new OriginPolicy(config.allowedOrigins());
        this.routes = new HttpRoutes(files);
        this.websocket = WebSocketServerProtocolConfig.newBuilder()
                .websocketPath(UpgradeGuard.PATH)
                .subprotocols(ProtocolCodec.PROTOCOL)
                .handleCloseFrames(true)
                .dropPongFrames(true)
                .handshakeTimeoutMillis(10_000)
                // After our close frame, wait this long for the client's before closing anyway.
                .forceCloseTimeoutMillis(2_000)
                .decoderConfig(WebSocketDecoderConfig.newBuilder()
                        .maxFramePayloadLength(config.maxFrameBytes())
                        .allowExtensions(false)
                        .allowMaskMismatch(false)
                        .closeOnProtocolViolation(true)
                        .withUTF8Validator(true)
                        .build())
                .build();
    }

    @Override
    protected void initChannel(SocketChannel channel) {
        ChannelPipeline p = channel.pipeline();
        if (tls != null) {
            p.addLast("tls", tls.newHandler(channel.alloc()));
        }
        p.addLast("flush", new FlushConsolidationHandler(256, false));
        // Until the upgrade, a connection silent for the idle timeout is closed, so idle TCP connections
        // do not hold slots; ChatSocket swaps this for the WebSocket keep-alive.
        p.addLast("keep-alive", new IdleStateHandler(config.idleTimeout().toMillis(), 0, 0, TimeUnit.MILLISECONDS));
        p.addLast("http", new HttpServerCodec(4096, 8192, 8192));
        p.addLast("aggregate", new HttpObjectAggregator(MAX_HTTP_REQUEST));
        p.addLast("guard", new UpgradeGuard(origins));
        p.addLast("websocket", new WebSocketServerProtocolHandler(websocket));
        p.addLast("fragments", new WebSocketFrameAggregator(config.maxFrameBytes()));
        p.addLast("routes", routes);
        p.addLast("chat", new ChatSocket(config, broker, codec, sockets));
    }
}
