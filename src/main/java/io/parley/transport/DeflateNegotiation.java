package io.parley.transport;

import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionData;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionDecoder;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketExtensionEncoder;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketServerExtension;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketServerExtensionHandler;
import io.netty.handler.codec.http.websocketx.extensions.WebSocketServerExtensionHandshaker;
import io.netty.handler.codec.http.websocketx.extensions.compression.PerMessageDeflateServerExtensionHandshaker;

import java.util.HashMap;
import java.util.Map;

/**
 * permessage-deflate (RFC 7692) on the terms Parley accepts: Netty's negotiation
 * ({@link PerMessageDeflateServerExtensionHandshaker}), answering every offer it accepts with
 * {@code server_no_context_takeover} and {@code client_no_context_takeover}.
 *
 * <ul>
 *   <li>{@code server_no_context_takeover}: {@link SharedFrames} compresses each broadcast on its own,
 *       once per event loop, and the same bytes go to every member; saying so lets clients drop their
 *       inflater's window between messages.</li>
 *   <li>{@code client_no_context_takeover}: without it the server would keep a 32 KB inflate window per
 *       connection for as long as it lives (at 20,000 connections, 640 MB) to read messages that are a
 *       line of chat each. RFC 7692 (7.1.1.2) lets a server ask for it even when the offer did not.</li>
 *   <li>An offer with {@code server_max_window_bits} is declined (the client gets no compression, or its
 *       next offer): a frame compressed with the 15-bit window could reach back further than such a
 *       client can follow, and Parley compresses once for everyone. Browsers do not send it.</li>
 * </ul>
 *
 * <p>Frames from the client are inflated by {@link MessageInflater}, not by Netty's decoder, which
 * inflates a frame completely before anything can look at the size: a 64 KB frame of zeros would become
 * 64 MB. Netty's encoder stays in the pipeline but compresses nothing of Parley's: text goes out as
 * pre-framed buffers (see {@link SharedFrames}) and control frames are never compressed.
 *
 * <p>Threads: {@link #handshakeExtension} runs on the connection's event loop; the instance is shared.
 */
final class DeflateNegotiation implements WebSocketServerExtensionHandshaker {

    private static final String SERVER_NO_CONTEXT = "server_no_context_takeover";
    private static final String CLIENT_NO_CONTEXT = "client_no_context_takeover";
    private static final String CLIENT_MAX_WINDOW = "client_max_window_bits";

    private final PerMessageDeflateServerExtensionHandshaker netty;
    private final int maxMessageBytes;

    /** {@code maxMessageBytes}: the most one message may inflate to; past it, 1009. */
    DeflateNegotiation(int maxMessageBytes) {
        this.maxMessageBytes = maxMessageBytes;
        // Level 6 only matters for Netty's encoder, which Parley's data does not pass; no server window
        // but 15 bits; no context takeover either way; no inflate limit, since Netty's decoder is unused.
        this.netty = new PerMessageDeflateServerExtensionHandshaker(6, false,
                PerMessageDeflateServerExtensionHandshaker.MAX_WINDOW_SIZE, true, true, 0);
    }

    /** The pipeline handler that negotiates for one connection (it keeps per-connection state). */
    WebSocketServerExtensionHandler newHandler() {
        return new WebSocketServerExtensionHandler(this);
    }

    @Override
    public WebSocketServerExtension handshakeExtension(WebSocketExtensionData offer) {
        if (!windowBitsValid(offer)) {
            return null;
        }
        // Netty grants no_context_takeover when the offer names it: name both, as if the client had.
        Map<String, String> terms = new HashMap<>(offer.parameters());
        terms.put(SERVER_NO_CONTEXT, null);
        terms.put(CLIENT_NO_CONTEXT, null);
        WebSocketServerExtension accepted;
        try {
            accepted = netty.handshakeExtension(new WebSocketExtensionData(offer.name(), terms));
        } catch (RuntimeException unparsable) {
            // Thrown inside Netty's extension handler it would leak the upgrade request and drop the
            // connection unanswered; an offer the server cannot read is one it does not take.
            return null;
        }
        return accepted == null ? null : new Accepted(accepted, maxMessageBytes);
    }

    /**
     * RFC 7692 (7.1.2.2): a {@code client_max_window_bits} value is a number from 8 to 15. Netty parses
     * it unchecked, and a hostile offer ({@code =abc}) would end the connection without an answer;
     * such an offer is declined instead, like any other offer the server cannot take.
     */
    private static boolean windowBitsValid(WebSocketExtensionData offer) {
        for (Map.Entry<String, String> term : offer.parameters().entrySet()) {
            String value = term.getValue();
            if (CLIENT_MAX_WINDOW.equalsIgnoreCase(term.getKey()) && value != null
                    && !value.matches("[89]|1[0-5]")) {
                return false;
            }
        }
        return true;
    }

    /** Netty's accepted extension, with Parley's bounded inflater instead of Netty's decoder. */
    private record Accepted(WebSocketServerExtension netty, int maxMessageBytes) implements WebSocketServerExtension {

        @Override
        public int rsv() {
            return netty.rsv();
        }

        @Override
        public WebSocketExtensionEncoder newExtensionEncoder() {
            return netty.newExtensionEncoder();
        }

        @Override
        public WebSocketExtensionDecoder newExtensionDecoder() {
            return new MessageInflater(maxMessageBytes);
        }

        @Override
        public WebSocketExtensionData newReponseData() {
            return netty.newReponseData();
        }
    }
}
