package io.parley.transport;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.cors.CorsConfig;
import io.netty.handler.codec.http.cors.CorsHandler;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateHandler;
import io.parley.account.Accounts;
import io.parley.chat.RoomAccess;
import io.parley.chat.RateLimits;
import io.parley.chat.RoomRequests;
import io.parley.chat.Sanctions;
import io.parley.config.ServerConfig;
import io.parley.engine.Broker;
import io.parley.protocol.ProtocolCodec;

import java.net.URI;
import java.util.concurrent.TimeUnit;

/**
 * The whole data path of a connection, in order from the socket inwards. Before any of it, at accept,
 * AcceptGate (on the listening socket) has counted the connection against the connection limits and
 * closed it if it is over one. Read top to bottom:
 * <pre>
 *   traffic      TrafficMeter: counts bytes on the wire for /metrics
 *   tls          SslHandler, only with --tls-cert/--tls-key
 *   flush        FlushConsolidationHandler: replies written while reading a burst of requests leave
 *                in one write (fan-out bursts are coalesced by ChatSocket's own deferred flush)
 *   keep-alive   IdleStateHandler: closes silent HTTP connections; after the upgrade, pings and
 *                closes silent WebSocket clients
 *   arrivals     Admission's eye on raw bytes: a request has begun before the codec can say so
 *   http         HttpServerCodec: bytes to HTTP requests (until the upgrade replaces it)
 *   admission    Admission: the per-client limit behind a trusted proxy (429) and the request
 *                deadline (slow loris, 408); the other connection limits are AcceptGate's, at accept;
 *                removes itself and its arrivals on the upgrade
 *   aggregate    RequestAggregator: one FullHttpRequest per request; 413 as JSON past the limit
 *   queue        RequestQueue: one request at a time, in order; stops reading while requests wait or
 *                the client leaves answers unread (--outbound-buffer-bytes); 431/414/400 and close
 *                for a request the codec could not read whole; removes itself on the upgrade
 *   target       TargetGuard: 421 for a Host (from a trusted proxy, the forwarded host) other than
 *                --public-url's, 400 for a target that is not valid percent-encoding
 *   cors         Netty's CorsHandler, only with --allowed-origin: lets pages on those origins call the
 *                HTTP API (answers preflights, adds Access-Control-Allow-Origin)
 *   guard        UpgradeGuard: refuses bad handshakes to /chat with 503/426/400/403/405/401, and
 *                leaves the token's identity on the channel
 *   extensions   Netty's extension handler with DeflateNegotiation, unless --no-compression: answers a
 *                permessage-deflate offer in the 101 and puts MessageInflater (and Netty's unused
 *                encoder) here; removes itself
 *   websocket    WebSocketProtocol (Netty's WebSocketServerProtocolHandler): the RFC 6455 handshake, then
 *                frames, the closing handshake, size limit (1009), protocol violations (1002), UTF-8
 *                validation (1007); pings and pongs go on to ChatSocket, which counts and answers them
 *   fragments    WebSocketFrameAggregator: continuation frames into one message, within the limit
 *   accounts     AccountRoutes: sign-in, sign-up, session tokens and sign-out under /api/session and
 *                /api/accounts (the password work on Accounts' threads)
 *   api          ApiRoutes: the HTTP API under /api (send, read, poll, long poll)
 *   routes       HttpRoutes: /healthz, /metrics and the browser client (plain HTTP only)
 *   chat         ChatSocket: text frames to the protocol; the connection's outbound side
 * </pre>
 * After the upgrade ChatSocket removes cors, guard, accounts, api and routes and replaces the keep-alive with the
 * WebSocket one. It sits next to the socket, where every byte read counts as activity.
 */
final class ChatChannelInitializer extends ChannelInitializer<SocketChannel> {

    static final String CORS = "cors";
    /** Requests to this server have no bodies bigger than a message, even with every character escaped. */
    private static final int MIN_HTTP_REQUEST = 16 * 1024;

    private final ServerConfig config;
    /** What pages on the allowed origins may do with the HTTP API; null when no origin is allowed. */
    private final CorsConfig cors;
    private final SslContext tls;
    private final Broker broker;
    private final ProtocolCodec codec;
    private final ChannelGroup sockets;
    private final ChannelGroup openChannels;
    private final OriginPolicy origins;
    private final HttpRoutes routes;
    private final TargetGuard target;
    private final WebSocketServerProtocolConfig websocket;
    private final Authenticator authenticator;
    private final ConnectionCounts connections;
    private final RateLimits rateLimits;
    private final RoomRequests roomRequests;
    private final ServerMetrics metrics;
    private final TrafficMeter traffic;
    private final int maxHttpRequest;
    private final FatalErrors fatal;
    private final DeflateNegotiation deflate;
    private final Accounts accounts;

    ChatChannelInitializer(ServerConfig config, SslContext tls, Broker broker, ProtocolCodec codec,
                           ChannelGroup sockets, ChannelGroup openChannels, StaticFiles files,
                           ConnectionCounts connections, FatalErrors fatal, Accounts accounts, RoomAccess rooms,
                           Sanctions sanctions) {
        this.accounts = accounts;
        this.fatal = fatal;
        this.openChannels = openChannels;
        this.config = config;
        this.tls = tls;
        this.broker = broker;
        this.codec = codec;
        this.sockets = sockets;
        this.origins = new OriginPolicy(config.allowedOrigins(), config.access().publicUrl());
        this.cors = origins.cors();
        this.target = new TargetGuard(origins, codec, config.admission().trustedProxies());
        this.authenticator = new Authenticator(config.access());
        this.connections = connections;
        this.rateLimits = new RateLimits(config.admission(), config.access().accounts().signInsPerMinutePerAddress());
        // The one place the moderation hook is wired: server admins and each room's owners and
        // moderators (RoomAccess.mayModerate, room roles and token claims), asked once per request.
        this.roomRequests = new RoomRequests(broker, config, rateLimits, accounts.names(), rooms, rooms::mayModerate,
                sanctions);
        this.metrics = new ServerMetrics(broker, sockets, connections);
        this.traffic = new TrafficMeter(metrics);
        this.routes = new HttpRoutes(files, metrics, origins, config.access().metricsFrom(),
                config.admission().trustedProxies());
        this.maxHttpRequest = Math.max(MIN_HTTP_REQUEST, config.maxMessageLength() * 6 + 1024);
        this.deflate = config.access().compression() ? new DeflateNegotiation(config.maxFrameBytes()) : null;
        this.websocket = WebSocketServerProtocolConfig.newBuilder()
                .websocketPath(UpgradeGuard.PATH)
                .subprotocols(ProtocolCodec.PROTOCOL)
                .handleCloseFrames(true)
                // ChatSocket counts pongs against the frame rate, then drops them.
                .dropPongFrames(false)
                .handshakeTimeoutMillis(config.admission().handshakeTimeout().toMillis())
                // After our close frame, wait this long for the client's before closing anyway.
                .forceCloseTimeoutMillis(2_000)
                .decoderConfig(WebSocketDecoderConfig.newBuilder()
                        .maxFramePayloadLength(config.maxFrameBytes())
                        // RSV1 is permessage-deflate's; WebSocketProtocol refuses any reserved bit
                        // left once MessageInflater has had the frame.
                        .allowExtensions(deflate != null)
                        .allowMaskMismatch(false)
                        // ChatSocket sends the close frame (1002, 1007, 1009): Netty's own does not
                        // when the violation is in the client's close frame, and the protocol handler
                        // then says 1000 on the way out.
                        .closeOnProtocolViolation(false)
                        .withUTF8Validator(true)
                        .build())
                .build();
    }

    @Override
    protected void initChannel(SocketChannel channel) {
        openChannels.add(channel);
        ChannelPipeline p = channel.pipeline();
        p.addLast("traffic", traffic);
        if (tls != null) {
            p.addLast("tls", tls.newHandler(channel.alloc()));
        }
        p.addLast("flush", new FlushConsolidationHandler(256, false));
        // Until the upgrade, a connection silent for the idle timeout is closed, so idle TCP connections
        // do not hold slots; ChatSocket swaps this for the WebSocket keep-alive.
        p.addLast("keep-alive", new IdleStateHandler(config.idleTimeout().toMillis(), 0, 0, TimeUnit.MILLISECONDS));
        Admission admission = new Admission(connections, metrics, config.admission().handshakeTimeout().toNanos(),
                config.admission().trustedProxies());
        p.addLast("arrivals", admission.arrivals());
        p.addLast("http", new HttpServerCodec(4096, 8192, 8192));
        p.addLast("admission", admission);
        p.addLast("aggregate", new RequestAggregator(maxHttpRequest, codec));
        p.addLast("queue", new RequestQueue(codec, config.outboundBufferBytes()));
        p.addLast("target", target);
        if (cors != null) {
            p.addLast(CORS, new CorsHandler(cors));
        }
        p.addLast("guard", new UpgradeGuard(origins, authenticator, config.access().webSocket(),
                config.admission().trustedProxies()));
        if (deflate != null) {
            p.addLast("extensions", deflate.newHandler());
        }
        p.addLast("websocket", new WebSocketProtocol(websocket));
        p.addLast("fragments", new WebSocketFrameAggregator(config.maxFrameBytes()));
        p.addLast("accounts", new AccountRoutes(accounts, codec, origins, rateLimits,
                config.admission().trustedProxies(), secureCookie()));
        p.addLast("api", new ApiRoutes(roomRequests, codec, authenticator, origins, rateLimits,
                config.admission().trustedProxies()));
        p.addLast("routes", routes);
        p.addLast("chat", new ChatSocket(config, broker, codec, sockets, roomRequests, authenticator, fatal));
    }

    /** Whether browsers reach this server over https: then the session cookie is {@code Secure}. */
    private boolean secureCookie() {
        URI publicUrl = config.access().publicUrl();
        return config.tls() || publicUrl != null && "https".equalsIgnoreCase(publicUrl.getScheme());
    }

    /** Forgets users who have not sent lately; the server calls it now and then. */
    void forgetIdleUsers() {
        rateLimits.forgetFull();
    }
}
