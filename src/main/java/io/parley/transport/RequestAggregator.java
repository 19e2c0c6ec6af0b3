package io.parley.transport;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.parley.chat.ChatException;
import io.parley.chat.ErrorCode;
import io.parley.protocol.ProtocolCodec;

/**
 * Netty's aggregator, answering a request whose body is over the limit with the protocol's JSON error
 * ({@code too_large}, 413) instead of an empty 413, so API clients see the same errors everywhere.
 * The connection is closed after it: the rest of the body is still on its way.
 */
final class RequestAggregator extends HttpObjectAggregator {

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
        Responses.sendAndClose(ctx, ApiRoutes.json(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                codec.error(e, null, null, null, null)));
    }
}
