package io.parley.transport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.cookie.Cookie;
import io.netty.handler.codec.http.cookie.CookieHeaderNames;
import io.netty.handler.codec.http.cookie.DefaultCookie;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;
import io.netty.handler.codec.http.cookie.ServerCookieEncoder;
import io.parley.account.Accounts;
import io.parley.chat.ChatException;
import io.parley.chat.ErrorCode;
import io.parley.chat.RateLimits;
import io.parley.config.Networks;
import io.parley.protocol.ProtocolCodec;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Pattern;

/**
 * Sign-in with Parley's own accounts, under {@code /api} (docs/PROTOCOL.md, "Accounts"):
 * <ul>
 *   <li>{@code POST /api/session} {@code {"name","password"}}: sign in; sets the session cookie;</li>
 *   <li>{@code POST /api/session/token}: a fresh token for the cookie's session;</li>
 *   <li>{@code DELETE /api/session}: sign out; revokes the session and clears the cookie;</li>
 *   <li>{@code GET /api/accounts}: whether sign-up is open; {@code POST /api/accounts}: sign up.</li>
 * </ul>
 * Checked like every /api request first (request rate, Origin); a password attempt counts against the
 * client address's sign-in rate too. The work ({@link Accounts}) runs on worker threads; the answer is
 * written back on this connection's event loop. Other paths pass on to {@link ApiRoutes}.
 *
 * <p>The cookie, {@code parley_session}, is {@code HttpOnly} (page script never sees it),
 * {@code SameSite=Strict} (no other site's page sends it), {@code Path=/api/session} (nothing else
 * receives it) and {@code Secure} when the server is reached over https. Cross-site request forgery is
 * closed three ways: the cookie is not sent cross-site, a foreign Origin is refused, and the POSTs that
 * take a body need {@code Content-Type: application/json}, which a form cannot send.
 *
 * <p>One per connection, on its event loop; {@link RequestQueue} hands it one request at a time.
 */
final class AccountRoutes extends SimpleChannelInboundHandler<FullHttpRequest> {

    static final String SESSION = "/api/session";
    static final String TOKEN = "/api/session/token";
    static final String ACCOUNTS = "/api/accounts";
    static final String COOKIE = "parley_session";
    /** A name and a password of 1024 code points, every one escaped, fit well below this. */
    static final int MAX_BODY_BYTES = 8 * 1024;
    private static final Pattern SESSION_ID = Pattern.compile("[A-Za-z0-9_-]{43}");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ThrottledLog failures = new ThrottledLog(LoggerFactory.getLogger(AccountRoutes.class),
            "failed account requests", 10);

    private final Accounts accounts;
    private final ProtocolCodec codec;
    private final OriginPolicy origins;
    private final RateLimits rateLimits;
    private final Networks proxies;
    private final boolean secureCookie;
    /** Whether the request being answered reached the browser over https; one request at a time per connection. */
    private boolean secureRequest;
    private RateLimits.Connection limits;
    private ChannelHandlerContext ctx;
    /** The request being answered, or null. */
    private FullHttpRequest current;

    AccountRoutes(Accounts accounts, ProtocolCodec codec, OriginPolicy origins, RateLimits rateLimits,
                  Networks proxies, boolean secureCookie) {
        super(false);
        this.accounts = accounts;
        this.codec = codec;
        this.origins = origins;
        this.rateLimits = rateLimits;
        this.proxies = proxies;
        this.secureCookie = secureCookie;
    }

    /** Whether a path is one of these routes. */
    static boolean routes(String path) {
        return path.equals(SESSION) || path.equals(TOKEN) || path.equals(ACCOUNTS);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.limits = rateLimits.forConnection(peer());
    }

    private InetAddress peer() {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : null;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        String path = new QueryStringDecoder(request.uri()).path();
        if (!routes(path)) {
            ctx.fireChannelRead(request);
            return;
        }
        current = request;
        try {
            handle(request, path);
        } catch (ChatException e) {
            answer(request, error(e, path));
        } catch (RuntimeException e) {
            answer(request, error(unwrap(e), path));
        }
    }

    private void handle(FullHttpRequest request, String path) {
        InetAddress peer = peer();
        boolean proxied = peer != null && proxies.contains(peer);
        InetAddress client = peer == null ? null : Admission.client(peer, request.headers(), proxies);
        (proxied ? rateLimits.forClientBehindProxy(client) : limits).request();
        var headers = request.headers();
        Addressed addressed = Addressed.of(ctx.channel(), headers, proxies);
        // Behind a TLS-terminating proxy the browser is on https even when this server is not: the
        // proxy's X-Forwarded-Proto (trusted proxies only) says so, and the cookie must then be Secure.
        secureRequest = secureCookie || "https".equals(addressed.scheme());
        if (!origins.allows(headers.get(HttpHeaderNames.ORIGIN), addressed)) {
            throw new ChatException(ErrorCode.FORBIDDEN, "origin not allowed");
        }
        HttpMethod method = request.method();
        switch (path) {
            case ACCOUNTS -> {
                if (method.equals(HttpMethod.GET)) {
                    Map<String, Object> body = new LinkedHashMap<>();
                    body.put("type", "accounts");
                    body.put("openSignup", accounts.openSignup());
                    answer(request, json(HttpResponseStatus.OK, body));
                } else if (method.equals(HttpMethod.POST)) {
                    Credentials c = credentials(request);
                    rateLimits.signIn(client);
                    reply(request, path, accounts.signUp(c.name, c.password), HttpResponseStatus.CREATED);
                } else {
                    throw notAllowed("GET, POST");
                }
            }
            case SESSION -> {
                if (method.equals(HttpMethod.POST)) {
                    Credentials c = credentials(request);
                    rateLimits.signIn(client);
                    reply(request, path, accounts.signIn(c.name, c.password), HttpResponseStatus.OK);
                } else if (method.equals(HttpMethod.DELETE)) {
                    accounts.signOut(sessionId(request)).whenCompleteAsync((done, failure) -> {
                        if (failure != null) {
                            answer(request, error(unwrap(failure), path));
                            return;
                        }
                        FullHttpResponse r = ApiRoutes.json(HttpResponseStatus.NO_CONTENT, new byte[0]);
                        r.headers().remove(HttpHeaderNames.CONTENT_TYPE);
                        r.headers().add(HttpHeaderNames.SET_COOKIE, cookie("", 0));
                        answer(request, r);
                    }, ctx.executor());
                } else {
                    throw notAllowed("POST, DELETE");
                }
            }
            default -> {
                if (!method.equals(HttpMethod.POST)) {
                    throw notAllowed("POST");
                }
                reply(request, path, accounts.token(sessionId(request)), HttpResponseStatus.OK);
            }
        }
    }

    private record Credentials(String name, String password) { }

    /** The body of a sign-in or sign-up: JSON, bounded, with a string name and password. */
    private static Credentials credentials(FullHttpRequest request) {
        CharSequence type = HttpUtil.getMimeType(request);
        if (type == null || !type.toString().equalsIgnoreCase("application/json")) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "the body must be Content-Type: application/json");
        }
        if (request.content().readableBytes() > MAX_BODY_BYTES) {
            throw new ChatException(ErrorCode.TOO_LARGE, "the body may be at most " + MAX_BODY_BYTES + " bytes");
        }
        JsonNode body;
        try {
            byte[] bytes = new byte[request.content().readableBytes()];
            request.content().getBytes(request.content().readerIndex(), bytes);
            body = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new ChatException(ErrorCode.BAD_JSON, "the body is not JSON");
        }
        if (body == null || !body.isObject() || !body.path("name").isTextual() || !body.path("password").isTextual()) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "the body must be {\"name\": \"...\", \"password\": \"...\"}");
        }
        return new Credentials(body.get("name").asText(), body.get("password").asText());
    }

    /** The session cookie's value, if the request carries a well-formed one. */
    private static String sessionId(FullHttpRequest request) {
        String header = request.headers().get(HttpHeaderNames.COOKIE);
        if (header == null || header.length() > 8192) {
            return null;
        }
        for (Cookie c : ServerCookieDecoder.STRICT.decode(header)) {
            if (c.name().equals(COOKIE) && SESSION_ID.matcher(c.value()).matches()) {
                return c.value();
            }
        }
        return null;
    }

    /** Answers with the grant once the worker is done, on this loop; sets the cookie for a new session. */
    private void reply(FullHttpRequest request, String path, CompletableFuture<Accounts.Grant> work,
                       HttpResponseStatus status) {
        work.whenCompleteAsync((grant, failure) -> {
            if (failure != null) {
                answer(request, error(unwrap(failure), path));
                return;
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("type", "session");
            body.put("user", grant.user());
            body.put("name", grant.name());
            body.put("token", grant.token());
            body.put("validUntil", grant.validUntil());
            body.put("roles", grant.roles());
            FullHttpResponse r = json(status, body);
            if (grant.sessionId() != null) {
                r.headers().add(HttpHeaderNames.SET_COOKIE, cookie(grant.sessionId(), accounts.sessionLifetime().toSeconds()));
            }
            answer(request, r);
        }, ctx.executor());
    }

    private String cookie(String value, long maxAgeSeconds) {
        DefaultCookie c = new DefaultCookie(COOKIE, value);
        c.setPath(SESSION);
        c.setHttpOnly(true);
        c.setSameSite(CookieHeaderNames.SameSite.Strict);
        c.setSecure(secureRequest);
        c.setMaxAge(maxAgeSeconds);
        return ServerCookieEncoder.STRICT.encode(c);
    }

    private static ChatException unwrap(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof ChatException e) {
            return e;
        }
        failures.error("account request failed", cause);
        return new ChatException(ErrorCode.INTERNAL_ERROR, "internal error");
    }

    private static ChatException notAllowed(String allow) {
        return new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use " + allow);
    }

    private FullHttpResponse error(ChatException e, String path) {
        String request = switch (path) {
            case ACCOUNTS -> "signup";
            case TOKEN -> "token";
            default -> "session";
        };
        FullHttpResponse r = ApiRoutes.error(codec, e, request, null, null);
        if (e.code() == ErrorCode.METHOD_NOT_ALLOWED) {
            r.headers().set(HttpHeaderNames.ALLOW, e.getMessage().substring("use ".length()));
        }
        return r;
    }

    private static FullHttpResponse json(HttpResponseStatus status, Map<String, Object> body) {
        try {
            return ApiRoutes.json(status, JSON.writeValueAsBytes(body));
        } catch (IOException e) {
            throw new IllegalStateException("a map of strings and numbers is JSON", e);
        }
    }

    /** Sends the answer, unless the request was answered already or the connection is gone. */
    private void answer(FullHttpRequest request, FullHttpResponse response) {
        if (current != request) {
            response.release();
            return;
        }
        current = null;
        Responses.send(ctx, request, response, true);
        request.release();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (current != null) {
            current.release();
            current = null;
        }
        super.channelInactive(ctx);
    }
}
