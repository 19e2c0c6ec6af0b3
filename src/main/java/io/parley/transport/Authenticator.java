package io.parley.transport;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.parley.auth.Identity;
import io.parley.auth.Tokens;
import io.parley.chat.ChatException;
import io.parley.chat.ChatRules;
import io.parley.config.ServerConfig;

import java.util.List;
import java.util.regex.Pattern;

/**
 * Decides who an HTTP request (a WebSocket handshake included) comes from: a user with a valid token,
 * a guest, or nobody the server lets in. The token travels as {@code Authorization: Bearer <token>},
 * or, on the WebSocket handshake only, as {@code ?token=<token>}, because a browser's WebSocket cannot
 * set headers. A token that fails is refused even where guests are welcome: a client that meant to be
 * someone must not silently become a guest.
 *
 * <p>Shared by all connections; immutable.
 */
final class Authenticator {

    private static final String BEARER = "bearer ";
    /**
     * Where a token can sit in a request target: {@code token=} in the query (WebSocket handshakes),
     * its letters percent-encoded or not, since the server decodes the name before it looks.
     */
    private static final Pattern QUERY_TOKEN = Pattern.compile(
            "(?i)([?&;](?:t|%74)(?:o|%6f)(?:k|%6b)(?:e|%65)(?:n|%6e)(?:=|%3d))[^&#;\\s]*");

    private final boolean allowGuests;
    private final Tokens tokens;

    Authenticator(ServerConfig.Access access) {
        this.allowGuests = access.allowGuests();
        this.tokens = access.tokenSecret() == null ? null : new Tokens(access.tokenSecret(), access.tokenLeeway());
    }

    /** What the server makes of a request's credentials. */
    sealed interface Result permits User, Guest, Refused { }

    record User(Identity identity) implements Result { }

    record Guest() implements Result { }

    /** Answer {@code 401} with this reason. */
    record Refused(String reason) implements Result { }

    /**
     * @param queryTokenAllowed whether {@code ?token=} counts (WebSocket handshakes only)
     */
    Result authenticate(HttpRequest request, boolean queryTokenAllowed) {
        String header = request.headers().get(HttpHeaderNames.AUTHORIZATION);
        String token = null;
        if (header != null) {
            String h = header.trim();
            if (!h.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
                return new Refused("only 'Authorization: Bearer <token>' is understood");
            }
            token = h.substring(BEARER.length()).trim();
        } else if (queryTokenAllowed) {
            List<String> values = new QueryStringDecoder(request.uri()).parameters().get("token");
            token = values == null || values.isEmpty() ? null : values.getFirst();
        }
        if (token != null && token.isBlank()) {
            // It meant to show a token: refuse rather than let it in as a guest.
            return new Refused("the token is empty");
        }
        if (token == null) {
            return allowGuests ? new Guest() : new Refused("this server needs a token: "
                    + "send 'Authorization: Bearer <token>'" + (queryTokenAllowed ? " or ?token=<token>" : ""));
        }
        return verify(token);
    }

    /**
     * A token on its own: a refresh on an open connection, or the one a request carried. Its name must
     * meet the rules a guest's name meets (no bidi overrides or invisible characters): a signed token
     * proves who the issuer vouched for, not that the name it chose shows harmlessly.
     */
    Result verify(String token) {
        if (tokens == null) {
            return new Refused("this server accepts no tokens (it has no token secret); connect as a guest");
        }
        Identity identity;
        try {
            identity = tokens.verify(token);
        } catch (Tokens.InvalidTokenException e) {
            return new Refused(e.getMessage());
        }
        try {
            ChatRules.name(identity.name());
        } catch (ChatException e) {
            return new Refused("the token's name is not allowed: " + e.getMessage());
        }
        return new User(identity);
    }

    /**
     * A request target fit for the log: the value of every {@code token=} in it replaced. Anything that
     * logs a target (or an exception whose message quotes one) goes through here, so that no token is
     * ever written to the log.
     */
    static String withoutTokens(String uri) {
        return uri == null ? null : QUERY_TOKEN.matcher(uri).replaceAll("$1<redacted>");
    }

    /**
     * A stand-in for {@code e} fit for the log: the same class name, stack and causes' stacks, with
     * {@link #withoutTokens(String)} applied to every message. Decoders and parsers quote their input.
     */
    static Throwable withoutTokens(Throwable e) {
        if (e == null) {
            return null;
        }
        String message = e.getMessage() == null ? e.getClass().getName()
                : e.getClass().getName() + ": " + withoutTokens(e.getMessage());
        Throwable copy = new RedactedException(message, withoutTokens(e.getCause()));
        copy.setStackTrace(e.getStackTrace());
        return copy;
    }

    /** What {@link #withoutTokens(Throwable)} logs in place of the exception it was given. */
    private static final class RedactedException extends RuntimeException {
        RedactedException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
