package io.parley.transport;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.parley.chat.ChatException;
import io.parley.chat.ErrorCode;
import io.parley.protocol.ProtocolCodec;

import java.util.concurrent.TimeUnit;

/**
 * Netty's aggregator, answering a request whose body is over the limit with the protocol's JSON error
 * ({@code too_large}, 413) instead of an empty 413, so API clients see the same errors everywhere.
 *
 * <p>The connection ends after it, but not at once: the rest of the body is still on its way, and
 * closing a socket with unread bytes in it sends a reset, which can destroy the 413 before the client
 * reads it (about one request in twenty on loopback). So the server stops writing (FIN after the 413),
 * lets the aggregator discard what still arrives, and closes when the client does, or after
 * {@value #LINGER_MILLIS} ms.
 */
final class RequestAggregator extends HttpObjectAggregator {

    static final long LINGER_MILLIS = 2_000;

    private final ProtocolCodec codec;

    RequestAggregator(int maxContentLength, ProtocolCodec codec) {
        super(maxContentLength);
        this.codec = codec;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
        if (!(oversized instanceof HttpRequest)) {
            super.handleOversizedMessage(ctx, oversized);
            return;
        }
        ChatException e = new ChatException(ErrorCode.TOO_LARGE,
                "the request body is larger than " + maxContentLength() + " bytes");
        FullHttpResponse response = ApiRoutes.json(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                codec.error(e, null, null, null, null));
        HttpUtil.setKeepAlive(response, false);
        ctx.writeAndFlush(response).addListener(written -> {
            if (written.isSuccess() && ctx.channel() instanceof SocketChannel socket) {
                socket.shutdownOutput();
                ctx.executor().schedule(() -> ctx.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS);
            } else {
                ctx.close();
            }
        });
    }
}
