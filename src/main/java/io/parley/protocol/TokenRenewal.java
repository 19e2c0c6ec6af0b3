package io.parley.protocol;

import io.parley.auth.Identity;

import java.time.Instant;

/**
 * What the transport does for a {@code refresh}: a connection opened with a token ends when the token
 * expires, unless the client shows a fresh one for the same user before then. The transport knows the
 * token secret and owns the timer; {@link ProtocolHandler} asks the chat whether the new identity may
 * take over in between. Called on the connection's event loop.
 */
public interface TokenRenewal {

    /**
     * Who a token proves, with its expiry.
     *
     * @throws io.parley.chat.ChatException {@code unauthorized} if it is malformed, badly signed or expired
     */
    Identity verify(String token);

    /** Moves the end of the connection to {@code validUntil}. */
    void expireAt(Instant validUntil);
}
