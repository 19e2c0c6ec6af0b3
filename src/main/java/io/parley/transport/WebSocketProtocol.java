package io.parley.transport;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;

import java.util.List;

/**
 * Netty's WebSocket protocol handler, except that a client's pings go on to {@link ChatSocket} instead of
 * being answered here, and that frames with reserved bits no extension claimed are refused (1002).
 *
 * <p>Netty answers every ping with a pong written straight to the socket: the pong bypasses the
 * connection's frame rate limit and its outbound backlog check, so four clients that sent pings and
 * never read grew the server's memory until it died. ChatSocket counts each ping and pong as a frame and
 * writes its pongs where the backlog is measured. Close frames stay with Netty (the closing handshake);
 * the frame decoder drops whatever a client sends after its close frame.
 *
 * <p>Threads: the connection's event loop.
 */
final class WebSocketProtocol extends WebSocketServerProtocolHandler {

    WebSocketProtocol(WebSocketServerProtocolConfig config) {
        super(config);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, WebSocketFrame frame, List<Object> out) throws Exception {
        if (frame.rsv() != 0) {
            // The frame decoder lets reserved bits through (permessage-deflate needs RSV1); what is left
            // of them here belongs to no negotiated extension. ChatSocket closes with 1002; thrown
            // here instead, Netty's handler would close the channel before that close frame went out.
            ctx.fireExceptionCaught(new CorruptedWebSocketFrameException(WebSocketCloseStatus.PROTOCOL_ERROR,
                    "reserved bits set that no negotiated extension defines"));
            return;
        }
        if (frame instanceof PingWebSocketFrame) {
            out.add(frame.retain());
            return;
        }
        super.decode(ctx, frame, out);
    }
}
