package io.parley.transport;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

import java.nio.charset.StandardCharsets;

/** Building and sending the plain HTTP answers of the routes and the handshake guard. */
final class Responses {

    private Responses() {
    }

    static FullHttpResponse text(HttpResponseStatus status, String body) {
        return bytes(status, "text/plain; charset=utf-8", (body + "\n").getBytes(StandardCharsets.UTF_8));
    }

    static FullHttpResponse bytes(HttpResponseStatus status, String contentType, byte[] body) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.wrappedBuffer(body));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, contentType)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set("X-Content-Type-Options", "nosniff")
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE);
        return response;
    }

    /** {@code 401} with the reason, and the challenge RFC 6750 asks for. */
    static FullHttpResponse unauthorized(String reason) {
        FullHttpResponse r = text(HttpResponseStatus.UNAUTHORIZED, reason);
        r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"parley\"");
        return r;
    }

    /** Sends the response and closes the connection, whatever the request asked for. */
    static void sendAndClose(ChannelHandlerContext ctx, FullHttpResponse response) {
        HttpUtil.setKeepAlive(response, false);
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    /** Sends the response, keeping the connection open only if the client asked for that. */
    static void send(ChannelHandlerContext ctx, FullHttpRequest request, FullHttpResponse response) {
        send(ctx, request, response, response.status().code() < 400);
    }

    /**
     * Sends the response, keeping the connection open if the client asked for that and
     * {@code keepAllowed}: after a request the server could not make sense of, it closes.
     */
    static void send(ChannelHandlerContext ctx, FullHttpRequest request, FullHttpResponse response,
                     boolean keepAllowed) {
        boolean keepAlive = HttpUtil.isKeepAlive(request) && keepAllowed;
        if (request.method().equals(HttpMethod.HEAD)) {
            response.content().clear();
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        var future = ctx.writeAndFlush(response);
        if (!keepAlive) {
            future.addListener(ChannelFutureListener.CLOSE);
        }
    }
}
