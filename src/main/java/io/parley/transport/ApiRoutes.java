package io.parley.transport;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import io.parley.auth.Identity;
import io.parley.chat.ChatException;
import io.parley.chat.ChatSession;
import io.parley.chat.ErrorCode;
import io.parley.chat.RateLimits;
import io.parley.chat.RoomAccess;
import io.parley.chat.RoomRequests;
import io.parley.config.Networks;
import io.parley.engine.DeleteListener;
import io.parley.engine.Failure;
import io.parley.engine.MembersListener;
import io.parley.engine.MembersPage;
import io.parley.engine.Poll;
import io.parley.engine.PollListener;
import io.parley.engine.PublishListener;
import io.parley.engine.ReadQueue;
import io.parley.engine.Replay;
import io.parley.engine.Tombstones;
import io.parley.protocol.ProtocolCodec;
import io.parley.protocol.ProtocolHandler;
import io.parley.protocol.ServerMessage;
import io.parley.store.RoomRecord;
import io.parley.store.StoreException;
import io.parley.store.StoredMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The HTTP API, every route under {@code /api} (docs/PROTOCOL.md, "HTTP API"):
 * <ul>
 *   <li>{@code POST /api/rooms/{room}/messages}: send; answered with the {@code ack} once stored;</li>
 *   <li>{@code GET /api/rooms/{room}/messages?since=N[&wait=S]}: poll, or long-poll for up to S seconds;</li>
 *   <li>{@code GET /api/rooms/{room}/messages[?before=N]}: read older or the latest history;</li>
 *   <li>{@code GET /api/rooms/{room}/members[?after=C&limit=N]}: one page of the room's members;</li>
 *   <li>{@code DELETE /api/rooms/{room}/messages/{seq}}: a moderator deletes a message;</li>
 *   <li>{@code POST /api/rooms/{room}/clear} with {@code {"upTo": N}}: a moderator clears the room up to N;</li>
 *   <li>{@code POST /api/rooms/{room}/bans} with {@code {"user": ID}}, {@code DELETE /api/rooms/{room}/bans/{user}},
 *       {@code POST /api/rooms/{room}/timeouts} with {@code {"user": ID, "seconds": N}}: a moderator bans,
 *       unbans, times out;</li>
 *   <li>{@code POST /api/rooms/{room}/slow} with {@code {"seconds": N}}: a moderator sets the room's slow mode;</li>
 *   <li>{@code GET /api/rooms/{room}/audit[?before=ID&limit=N]}: a moderator reads the room's audit log;</li>
 *   <li>{@code GET /api/rooms[?limit=N]}, {@code POST /api/rooms}: the rooms the caller may see, most
 *       recently active first; create one;</li>
 *   <li>{@code GET/PATCH /api/rooms/{room}}: a room's settings;</li>
 *   <li>{@code POST/DELETE /api/rooms/{room}/roles/{user}}: grant or revoke a room role.</li>
 * </ul>
 * Each request is checked like a WebSocket handshake (origin, then token) and then handed to
 * {@link RoomRequests}, which applies the chat's rules; errors are the protocol's error objects with
 * a matching HTTP status. Other paths pass on to {@link HttpRoutes}.
 *
 * <p>One per connection, on its event loop. {@link RequestQueue} hands it a connection's requests one
 * at a time, each once the one before is answered (HTTP pipelining waits there). A long
 * poll is ended by the engine's answer or by this handler's timer, whichever comes first on the loop;
 * when the connection closes it is cancelled.
 */
final class ApiRoutes extends SimpleChannelInboundHandler<FullHttpRequest> {

    private static final Logger log = LoggerFactory.getLogger(ApiRoutes.class);
    /** Failed requests are bugs, but a client that found one can repeat it: a few lines a minute. */
    private static final ThrottledLog failures = new ThrottledLog(log, "failed API requests", 10);
    static final String PREFIX = "/api/";
    private static final String ROOMS = "/api/rooms/";
    private static final String ROOMS_LIST = "/api/rooms";
    private static final String MESSAGES = "/messages";
    private static final String MEMBERS = "/members";
    private static final String CLEAR = "/clear";
    private static final String SLOW = "/slow";
    private static final String AUDIT = "/audit";
    /** {@code /api/rooms/{room}/messages/{seq}}: the room is checked by the chat's rules, the seq here. */
    private static final Pattern ONE_MESSAGE = Pattern.compile("/api/rooms/([^/]+)/messages/([^/]*)");
    /** {@code /api/rooms/{room}/bans[/{user}]} and {@code /api/rooms/{room}/timeouts}. */
    private static final Pattern SANCTIONS = Pattern.compile("/api/rooms/([^/]+)/(bans|timeouts)(?:/([^/]+))?");
    private static final String ROLES = "/roles/";
    private static final Pattern WHOLE_NUMBER = Pattern.compile("-?[0-9]{1,19}");
    static final String GUEST_NAME = "X-Parley-Name";

    private final RoomRequests chat;
    private final ProtocolCodec codec;
    private final Authenticator authenticator;
    private final OriginPolicy origins;
    private final RateLimits rateLimits;
    private final Networks proxies;
    /** This connection's own limits; requests a trusted proxy forwards use their client's instead. */
    private RateLimits.Connection limits;
    /** The peer, when it is a trusted proxy; null otherwise. */
    private InetAddress proxy;
    private ChannelHandlerContext ctx;
    /** The request being answered, or null. */
    private FullHttpRequest current;
    private Poll poll;
    private ScheduledFuture<?> pollTimer;
    /**
     * This connection's turn at the disk; closed with it, so that its queued reads are dropped. One
     * request is answered at a time, so a connection has at most one read in flight.
     */
    private ReadQueue.Asker reads;

    ApiRoutes(RoomRequests chat, ProtocolCodec codec, Authenticator authenticator, OriginPolicy origins,
              RateLimits rateLimits, Networks proxies) {
        super(false);
        this.chat = chat;
        this.codec = codec;
        this.authenticator = authenticator;
        this.origins = origins;
        this.rateLimits = rateLimits;
        this.proxies = proxies;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.limits = rateLimits.forConnection(
                ctx.channel().remoteAddress() instanceof InetSocketAddress peer ? peer.getAddress() : null);
        this.reads = chat.asker();
        if (ctx.channel().remoteAddress() instanceof InetSocketAddress peer && proxies.contains(peer.getAddress())) {
            proxy = peer.getAddress();
        }
    }

    /**
     * Whose request and send rates a request counts against: this connection's, or, for a request a
     * trusted proxy forwards, its client's. A proxy carries many clients' requests over its pooled
     * connections; counting them against the connection would make them throttle each other.
     */
    private RateLimits.Connection limitsFor(FullHttpRequest request) {
        return proxy == null ? limits
                : rateLimits.forClientBehindProxy(Admission.clientBehind(proxy, request.headers(), proxies));
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        // RequestQueue hands on the next request only once this one is answered.
        if (!request.uri().startsWith(PREFIX)) {
            // Not the API: the plain routes.
            ctx.fireChannelRead(request);
            return;
        }
        current = request;
        try {
            handle(request);
        } catch (ChatException e) {
            answer(request, error(e, null, null));
        } catch (RuntimeException e) {
            failures.error("API request {} {} failed", request.method(), Authenticator.withoutTokens(request.uri()),
                    Authenticator.withoutTokens(e));
            answer(request, error(new ChatException(ErrorCode.INTERNAL_ERROR, "internal error"), null, null));
        }
    }

    private void handle(FullHttpRequest request) {
        RateLimits.Connection limits = limitsFor(request);
        limits.request();
        var headers = request.headers();
        if (!origins.allows(headers.get(HttpHeaderNames.ORIGIN), Addressed.of(ctx.channel(), headers, proxies))) {
            throw new ChatException(ErrorCode.FORBIDDEN, "origin not allowed");
        }
        Identity user = switch (authenticator.authenticate(request, false)) {
            case Authenticator.User u -> u.identity();
            case Authenticator.Guest g -> null;
            case Authenticator.Refused r -> throw new ChatException(ErrorCode.UNAUTHORIZED, r.reason());
        };
        QueryStringDecoder query = new QueryStringDecoder(request.uri());
        // Routes are matched on the path as sent, and each piece is decoded on its own: a user id in
        // /roles/{user} or /bans/{user} may hold an encoded "/" (%2F), which decoding the whole path
        // first would turn into a path separator (TargetGuard has checked the encoding already).
        String path = query.rawPath();
        HttpMethod method = request.method();
        if (path.equals(ROOMS_LIST)) {
            if (method.equals(HttpMethod.GET)) {
                rooms(request, query.parameters(), user);
            } else if (method.equals(HttpMethod.POST)) {
                ProtocolCodec.RoomBody body = body(request, ProtocolCodec.RoomBody.class, "create");
                if (body.room() == null) {
                    throw new ChatException(ErrorCode.BAD_REQUEST, "missing field 'room'");
                }
                changed(request, chat.access().create(user, body.room(), body.kind(), body.write()), body.room());
            } else {
                throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use GET to list rooms and POST to create one");
            }
            return;
        }
        if (path.startsWith(ROOMS) && path.endsWith(MEMBERS) && path.length() > ROOMS.length() + MEMBERS.length()) {
            if (!method.equals(HttpMethod.GET)) {
                throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use GET to read the members");
            }
            members(request, query.parameters(), reader(request, user),
                    segment(path.substring(ROOMS.length(), path.length() - MEMBERS.length())));
            return;
        }
        if (path.startsWith(ROOMS) && path.indexOf(ROLES, ROOMS.length()) > ROOMS.length()) {
            int at = path.indexOf(ROLES, ROOMS.length());
            roles(request, user, segment(path.substring(ROOMS.length(), at)), segment(path.substring(at + ROLES.length())));
            return;
        }
        if (path.startsWith(ROOMS) && path.length() > ROOMS.length() && path.indexOf('/', ROOMS.length()) < 0) {
            String room = segment(path.substring(ROOMS.length()));
            if (method.equals(HttpMethod.GET)) {
                answer(request, ok(ServerMessage.RoomInfo.of(chat.access().settings(reader(request, user), room), null)));
            } else if (method.equals(HttpMethod.PATCH)) {
                ProtocolCodec.RoomBody body = body(request, ProtocolCodec.RoomBody.class, "set");
                changed(request, chat.access().set(user, room, body.kind(), body.write()), room);
            } else {
                throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use GET to read a room's settings and PATCH to change them");
            }
            return;
        }
        Matcher sanction = SANCTIONS.matcher(path);
        if (sanction.matches()) {
            sanction(request, moderator(user, request), segment(sanction.group(1)), sanction.group(2),
                    sanction.group(3) == null ? null : segment(sanction.group(3)));
            return;
        }
        Matcher oneMessage = ONE_MESSAGE.matcher(path);
        if (oneMessage.matches()) {
            if (!request.method().equals(HttpMethod.DELETE)) {
                throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use DELETE to delete a message");
            }
            String seq = oneMessage.group(2);
            delete(request, moderator(user, request), segment(oneMessage.group(1)),
                    number(Map.of("seq", List.of(seq)), "seq"), false);
            return;
        }
        if (path.startsWith(ROOMS) && path.endsWith(AUDIT) && path.length() > ROOMS.length() + AUDIT.length()) {
            if (!request.method().equals(HttpMethod.GET)) {
                throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use GET to read the audit log");
            }
            String room = segment(path.substring(ROOMS.length(), path.length() - AUDIT.length()));
            Long before = cursor(query.parameters(), "before");
            Long limit = cursor(query.parameters(), "limit");
            Integer max = limit == null ? null : (int) Math.max(Integer.MIN_VALUE, Math.min(limit, Integer.MAX_VALUE));
            chat.audit(moderator(user, request), room, before, max).whenCompleteAsync((entries, failure) -> {
                if (failure == null) {
                    answer(request, ok(ServerMessage.AuditPage.of(room, entries,
                            max == null ? RoomRequests.DEFAULT_AUDIT_LIMIT : max, null)));
                } else {
                    answer(request, error(storeFailure(room, failure), null, room));
                }
            }, ctx.executor());
            return;
        }
        if (path.startsWith(ROOMS) && path.endsWith(SLOW) && path.length() > ROOMS.length() + SLOW.length()) {
            if (!request.method().equals(HttpMethod.POST)) {
                throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use POST to set a room's slow mode");
            }
            ProtocolCodec.SlowBody body;
            try {
                body = codec.decodeSlow(jsonBody(request));
            } catch (ProtocolCodec.BadRequest e) {
                throw new ChatException(e.code(), e.getMessage());
            }
            String room = segment(path.substring(ROOMS.length(), path.length() - SLOW.length()));
            chat.slow(moderator(user, request), room, body.seconds()).whenCompleteAsync((seconds, failure) -> {
                if (failure == null) {
                    answer(request, ok(new ServerMessage.Moderated("slow", room, null, null, seconds, true, null)));
                } else {
                    answer(request, error(storeFailure(room, failure), null, room));
                }
            }, ctx.executor());
            return;
        }
        if (path.startsWith(ROOMS) && path.endsWith(CLEAR) && path.length() > ROOMS.length() + CLEAR.length()) {
            if (!request.method().equals(HttpMethod.POST)) {
                throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use POST to clear a room");
            }
            ProtocolCodec.ClearBody body;
            try {
                body = codec.decodeClear(jsonBody(request));
            } catch (ProtocolCodec.BadRequest e) {
                throw new ChatException(e.code(), e.getMessage());
            }
            delete(request, moderator(user, request), segment(path.substring(ROOMS.length(), path.length() - CLEAR.length())),
                    body.upTo(), true);
            return;
        }
        if (!path.startsWith(ROOMS) || !path.endsWith(MESSAGES) || path.length() <= ROOMS.length() + MESSAGES.length()) {
            throw new ChatException(ErrorCode.NOT_FOUND, "no such API route: " + query.path());
        }
        String room = segment(path.substring(ROOMS.length(), path.length() - MESSAGES.length()));
        if (method.equals(HttpMethod.POST)) {
            post(request, user, room, limits);
        } else if (method.equals(HttpMethod.GET)) {
            read(request, query.parameters(), reader(request, user), room);
        } else {
            throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use GET to read and POST to send");
        }
    }

    /** One piece of a route's path, percent-decoded as UTF-8 ("+" is a plus, as in a path). */
    private static String segment(String raw) {
        return QueryStringDecoder.decodeComponent(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /**
     * Who reads: the token's user, or a guest named by {@code X-Parley-Name}, or (without either) null,
     * an anonymous reader, which public rooms let in and private rooms do not.
     */
    private static Identity reader(FullHttpRequest request, Identity user) {
        if (user != null) {
            return user;
        }
        String name = guestName(request);
        return name == null ? null : ChatSession.guest(name);
    }

    /** {@code POST} (grant, with {@code {"role": ...}}) or {@code DELETE} (revoke) {@code /api/rooms/{room}/roles/{user}}. */
    private void roles(FullHttpRequest request, Identity user, String room, String target) {
        if (target.isEmpty() || target.indexOf('/') >= 0) {
            throw new ChatException(ErrorCode.NOT_FOUND, "no such API route");
        }
        if (request.method().equals(HttpMethod.POST)) {
            ProtocolCodec.RoleBody body = body(request, ProtocolCodec.RoleBody.class, "grant");
            changed(request, chat.access().grant(user, room, target, body.role()), room);
        } else if (request.method().equals(HttpMethod.DELETE)) {
            changed(request, chat.access().revoke(user, room, target), room);
        } else {
            throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, "use POST to grant a role and DELETE to revoke it");
        }
    }

    private <T> T body(FullHttpRequest request, Class<T> type, String name) {
        try {
            return codec.decodeBody(jsonBody(request), type, name);
        } catch (ProtocolCodec.BadRequest e) {
            throw new ChatException(e.code(), e.getMessage());
        }
    }

    /** Answers a room change when the database took it, on this connection's loop. */
    private void changed(FullHttpRequest request, CompletableFuture<RoomRecord> change, String room) {
        change.whenCompleteAsync((record, failure) -> answer(request, failure == null
                ? ok(ServerMessage.RoomInfo.of(record, null))
                : error(RoomAccess.failure(failure), null, room)), ctx.executor());
    }

    /** A JSON request body as text; anything but {@code Content-Type: application/json} is refused. */
    private static String jsonBody(FullHttpRequest request) {
        CharSequence type = HttpUtil.getMimeType(request);
        if (type == null || !type.toString().equalsIgnoreCase("application/json")) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "the body must be Content-Type: application/json");
        }
        return request.content().toString(StandardCharsets.UTF_8);
    }

    /**
     * Who asks to moderate: the token's user, or a guest, whom {@link io.parley.chat.Moderators} then
     * refuses like any user without the right (there is no second rule here).
     */
    private static Identity moderator(Identity user, FullHttpRequest request) {
        if (user != null) {
            return user;
        }
        String name = guestName(request);
        return Identity.guest(name == null ? "" : name);
    }

    /** A ban ({@code POST .../bans}), an unban ({@code DELETE .../bans/{user}}) or a timeout ({@code POST .../timeouts}). */
    private void sanction(FullHttpRequest request, Identity who, String room, String kind, String target) {
        boolean bans = kind.equals("bans");
        String action;
        String user;
        CompletableFuture<ServerMessage.Moderated> done;
        if (bans && target != null && request.method().equals(HttpMethod.DELETE)) {
            action = "unban";
            user = target;
            done = chat.unban(who, room, user)
                    .thenApply(lifted -> new ServerMessage.Moderated(action, room, user, null, null, lifted, null));
        } else if (target == null && request.method().equals(HttpMethod.POST)) {
            action = bans ? "ban" : "timeout";
            ProtocolCodec.SanctionBody body;
            try {
                body = codec.decodeSanction(jsonBody(request), action);
            } catch (ProtocolCodec.BadRequest e) {
                throw new ChatException(e.code(), e.getMessage());
            }
            user = body.user();
            done = bans
                    ? chat.ban(who, room, user)
                            .thenApply(x -> new ServerMessage.Moderated(action, room, user, null, null, true, null))
                    : chat.timeout(who, room, user, body.seconds())
                            .thenApply(x -> new ServerMessage.Moderated(action, room, user,
                                    body.seconds() == 0 ? null : x.until(), null, true, null));
        } else {
            throw new ChatException(ErrorCode.METHOD_NOT_ALLOWED, bans
                    ? "POST /api/rooms/{room}/bans to ban, DELETE /api/rooms/{room}/bans/{user} to unban"
                    : "POST /api/rooms/{room}/timeouts to time out");
        }
        done.whenCompleteAsync((answer, failure) -> {
            if (failure == null) {
                answer(request, ok(answer));
            } else {
                answer(request, error(storeFailure(room, failure), null, room));
            }
        }, ctx.executor());
    }

    /** A moderator's deletion of one message, or (clear) of every message up to {@code seq}. */
    private void delete(FullHttpRequest request, Identity who, String room, Long seq, boolean clear) {
        String type = clear ? "clear" : "delete";
        DeleteListener listener = new DeleteListener() {
            @Override
            public void deleted(Tombstones t) {
                if (t.seqs().isEmpty() && !clear) {
                    answer(request, error(ChatSession.nothingToDelete(t), null, room));
                } else {
                    answer(request, ok(ProtocolCodec.deletion(t, t.seqs().size(), null)));
                }
            }

            @Override
            public void failed(Failure failure) {
                answer(request, error(ChatSession.refused(failure), null, room));
            }
        };
        if (clear) {
            chat.clear(who, room, seq, ctx.executor(), listener);
        } else {
            chat.delete(who, room, seq, ctx.executor(), listener);
        }
    }

    private void post(FullHttpRequest request, Identity user, String room, RateLimits.Connection limits) {
        ProtocolCodec.Post body;
        try {
            body = codec.decodePost(jsonBody(request));
        } catch (ProtocolCodec.BadRequest e) {
            throw new ChatException(e.code(), e.getMessage());
        }
        Identity who = user != null ? user : ChatSession.guest(guestName(request));
        try {
            chat.post(who, limits, room, body.id(), body.text(), ctx.executor(), new PublishListener() {
                @Override
                public void stored(StoredMessage m) {
                    answer(request, ok(new ServerMessage.Ack(m.id(), m.room(), m.seq(), m.time())));
                }

                @Override
                public void failed(Failure failure) {
                    answer(request, error(ChatSession.refused(failure), body.id(), room));
                }
            });
        } catch (ChatException e) {
            answer(request, error(e, body.id(), room));
        }
    }

    /** {@code X-Parley-Name}, percent-encoded UTF-8: header values cannot carry most of Unicode. */
    private static String guestName(FullHttpRequest request) {
        String header = request.headers().get(GUEST_NAME);
        if (header == null) {
            return null;
        }
        try {
            return QueryStringDecoder.decodeComponent(header.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new ChatException(ErrorCode.INVALID_NAME, GUEST_NAME + " must be percent-encoded UTF-8");
        }
    }

    /** The rooms list; like reading a room, open to whoever may connect. */
    private void rooms(FullHttpRequest request, Map<String, List<String>> params, Identity user) {
        Long limit = cursor(params, "limit");
        Integer max = limit == null ? null : (int) Math.max(Integer.MIN_VALUE, Math.min(limit, Integer.MAX_VALUE));
        chat.rooms(user, reads, max).whenCompleteAsync((rooms, failure) -> {
            if (failure == null) {
                answer(request, ok(ServerMessage.Rooms.of(rooms, null)));
            } else {
                answer(request, error(ProtocolHandler.readFailed("the rooms list", failure), null, null));
            }
        }, ctx.executor());
    }

    private void read(FullHttpRequest request, Map<String, List<String>> params, Identity who, String room) {
        Long since = number(params, "since");
        Long before = number(params, "before");
        Long limit = number(params, "limit");
        Long wait = number(params, "wait");
        Integer max = limit == null ? null : (int) Math.min(limit, Integer.MAX_VALUE);
        if (since != null && before != null) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "give since or before, not both");
        }
        if (since == null) {
            if (wait != null) {
                throw new ChatException(ErrorCode.BAD_REQUEST, "wait needs since");
            }
            chat.history(who, reads, room, before, null, max).whenCompleteAsync((messages, failure) -> {
                if (failure == null) {
                    long seq = messages.isEmpty() ? (before == null ? 0 : before - 1) : messages.getLast().seq();
                    answer(request, ok(new ServerMessage.HistoryPage(room, ServerMessage.Message.of(messages),
                            before == null ? seq : null, null, null, null, null)));
                } else {
                    answer(request, error(storeFailure(room, failure), null, room));
                }
            }, ctx.executor());
            return;
        }
        int waitSeconds = wait == null ? 0 : (int) Math.min(wait, Integer.MAX_VALUE);
        poll = chat.poll(who, reads, room, since, max, waitSeconds, ctx.executor(), new PollListener() {
            @Override
            public void answered(Replay replay) {
                engineAnswered(request);
                answer(request, ok(page(room, since, replay)));
            }

            @Override
            public void failed(Failure failure) {
                engineAnswered(request);
                answer(request, error(ChatSession.refused(failure), null, room));
            }
        });
        if (waitSeconds > 0) {
            pollTimer = ctx.executor().schedule(() -> waitRanOut(request, room, since), waitSeconds, TimeUnit.SECONDS);
        }
    }

    /** A page of the room's members; like reading its messages, open to whoever may connect. */
    private void members(FullHttpRequest request, Map<String, List<String>> params, Identity who, String room) {
        Long after = cursor(params, "after");
        Long limit = cursor(params, "limit");
        Integer max = limit == null ? null : (int) Math.max(Integer.MIN_VALUE, Math.min(limit, Integer.MAX_VALUE));
        chat.members(who, room, after, max, ctx.executor(), new MembersListener() {
            @Override
            public void answered(MembersPage page) {
                answer(request, ok(ServerMessage.MembersPage.of(room, page, null)));
            }

            @Override
            public void failed(Failure failure) {
                answer(request, error(ChatSession.refused(failure), null, room));
            }
        });
    }

    /** A members parameter: refused as {@code invalid_cursor} rather than {@code invalid_since}. */
    private static Long cursor(Map<String, List<String>> params, String name) {
        try {
            return number(params, name);
        } catch (ChatException e) {
            throw new ChatException(ErrorCode.INVALID_CURSOR, e.getMessage());
        }
    }

    /** The engine is done with the poll of {@code request}: nothing to cancel. */
    private void engineAnswered(FullHttpRequest request) {
        if (current == request) {
            poll = null;
        }
    }

    private void waitRanOut(FullHttpRequest request, String room, long since) {
        pollTimer = null;
        if (current != request) {
            return;
        }
        // Nothing arrived: the room is still at the seq the client gave.
        answer(request, ok(new ServerMessage.HistoryPage(room, List.of(), since, null, true, null, null)));
    }

    private static ServerMessage.HistoryPage page(String room, long since, Replay replay) {
        return new ServerMessage.HistoryPage(room, ServerMessage.Message.of(replay.messages()), replay.lastSeq(),
                replay.firstSeq(), replay.complete(), replay.recovered(since), null);
    }

    private static ChatException storeFailure(String room, Throwable failure) {
        Throwable cause = failure instanceof CompletionException ? failure.getCause() : failure;
        if (cause instanceof StoreException) {
            return ChatSession.refused(Failure.STORE_UNAVAILABLE);
        }
        failures.error("reading room {} failed", room, cause);
        return new ChatException(ErrorCode.INTERNAL_ERROR, "internal error");
    }

    /**
     * A parameter as a whole number in ASCII digits, with an optional minus (the rules then say what a
     * negative one means). {@code Long.parseLong} alone would also take {@code +1} and digits of other
     * scripts ({@code １}, {@code ١}); a parameter given twice is refused rather than one picked.
     */
    private static Long number(Map<String, List<String>> params, String name) {
        List<String> values = params.get(name);
        if (values == null || values.isEmpty()) {
            return null;
        }
        ErrorCode code = name.equals("wait") ? ErrorCode.BAD_REQUEST : ErrorCode.INVALID_SINCE;
        if (values.size() > 1) {
            throw new ChatException(code, name + " must be given once");
        }
        String value = values.getFirst();
        if (!WHOLE_NUMBER.matcher(value).matches()) {
            throw new ChatException(code, name + " must be a whole number");
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new ChatException(code, name + " must be a whole number within 64 bits");
        }
    }

    private FullHttpResponse ok(ServerMessage message) {
        return json(HttpResponseStatus.OK, codec.encode(message));
    }

    private FullHttpResponse error(ChatException e, String id, String room) {
        String method = current == null ? null : current.method().name();
        return error(codec, e, method == null ? null : requestName(method, current.uri()), id, room);
    }

    /**
     * The answer to a request refused with {@code e}: the protocol's error object, its HTTP status, and
     * the headers that status calls for. Every route under /api answers errors through here.
     */
    static FullHttpResponse error(ProtocolCodec codec, ChatException e, String request, String id, String room) {
        FullHttpResponse r = json(status(e.code()), codec.error(e, request, id, room, null));
        if (e.retryAfterMillis() > 0) {
            r.headers().set(HttpHeaderNames.RETRY_AFTER, Long.toString((e.retryAfterMillis() + 999) / 1000));
        }
        if (e.code() == ErrorCode.UNAUTHORIZED) {
            r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"parley\"");
        }
        if (e.code() == ErrorCode.METHOD_NOT_ALLOWED) {
            r.headers().set(HttpHeaderNames.ALLOW, "GET, POST, PATCH, DELETE");
        }
        return r;
    }

    private static String requestName(String method, String uri) {
        return switch (method) {
            case "POST" -> {
                String path = new QueryStringDecoder(uri).path();
                yield path.endsWith(CLEAR) ? "clear" : path.endsWith(SLOW) ? "slow" : path.endsWith("/bans") ? "ban"
                        : path.endsWith("/timeouts") ? "timeout" : "send";
            }
            case "PATCH" -> "set";
            case "DELETE" -> {
                String path = new QueryStringDecoder(uri).path();
                yield path.contains("/bans/") ? "unban" : path.contains(ROLES) ? "revoke" : "delete";
            }
            case "GET", "HEAD" -> "read";
            default -> null;
        };
    }

    static HttpResponseStatus status(ErrorCode code) {
        return switch (code) {
            case UNAUTHORIZED, BAD_CREDENTIALS -> HttpResponseStatus.UNAUTHORIZED;
            case FORBIDDEN, SIGNUP_CLOSED -> HttpResponseStatus.FORBIDDEN;
            case NAME_TAKEN, ROOM_EXISTS -> HttpResponseStatus.CONFLICT;
            case NOT_FOUND, NO_SUCH_MESSAGE -> HttpResponseStatus.NOT_FOUND;
            case BANNED, TIMED_OUT -> HttpResponseStatus.FORBIDDEN;
            case SLOW_MODE -> HttpResponseStatus.TOO_MANY_REQUESTS;
            case METHOD_NOT_ALLOWED -> HttpResponseStatus.METHOD_NOT_ALLOWED;
            case TOO_LARGE -> HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE;
            case MISDIRECTED -> HttpResponseStatus.MISDIRECTED_REQUEST;
            case RATE_LIMITED -> HttpResponseStatus.TOO_MANY_REQUESTS;
            case ID_REUSED -> HttpResponseStatus.CONFLICT;
            case OVERLOADED, STORE_UNAVAILABLE, SHUTTING_DOWN -> HttpResponseStatus.SERVICE_UNAVAILABLE;
            case INTERNAL_ERROR -> HttpResponseStatus.INTERNAL_SERVER_ERROR;
            default -> HttpResponseStatus.BAD_REQUEST;
        };
    }

    static FullHttpResponse json(HttpResponseStatus status, byte[] body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        r.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set("X-Content-Type-Options", "nosniff")
                .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_STORE);
        return r;
    }

    /**
     * Sends the answer to {@code request}. An answer to a request already answered (a poll whose timer
     * won, a connection gone) is dropped.
     */
    private void answer(FullHttpRequest request, FullHttpResponse response) {
        if (current != request || request == null) {
            response.release();
            return;
        }
        current = null;
        if (poll != null) {
            poll.cancel();
            poll = null;
        }
        if (pollTimer != null) {
            pollTimer.cancel(false);
            pollTimer = null;
        }
        // Errors of the chat leave the connection usable (RequestQueue answers what could not be parsed).
        Responses.send(ctx, request, response, true);
        request.release();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        reads.close();
        if (poll != null) {
            poll.cancel();
            poll = null;
        }
        if (pollTimer != null) {
            pollTimer.cancel(false);
        }
        if (current != null) {
            current.release();
            current = null;
        }
        super.channelInactive(ctx);
    }
}
