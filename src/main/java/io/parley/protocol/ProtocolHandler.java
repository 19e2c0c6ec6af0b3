package io.parley.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Identity;
import io.parley.chat.ChatException;
import io.parley.chat.ChatSession;
import io.parley.chat.ErrorCode;
import io.parley.chat.RoomAccess;
import io.parley.chat.RoomRequests;
import io.parley.config.ServerConfig;
import io.parley.engine.DeleteListener;
import io.parley.engine.Failure;
import io.parley.engine.JoinListener;
import io.parley.engine.MembersListener;
import io.parley.engine.MembersPage;
import io.parley.engine.PublishListener;
import io.parley.engine.Refused;
import io.parley.engine.Replay;
import io.parley.engine.Subscriber;
import io.parley.engine.Tombstones;
import io.parley.store.RoomRecord;
import io.parley.store.StoreException;
import io.parley.store.StoredMessage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * One connection's requests, from text to chat and back: decode, dispatch on the request type,
 * encode the reply. Adding a request type touches docs/PROTOCOL.md, one record and one case here.
 *
 * <p>Threads: confined to the connection's event loop, like the {@link ChatSession} it drives. Every
 * reply goes out through the connection's {@link Subscriber}, so replies and broadcasts share one
 * ordered stream per connection.
 */
public final class ProtocolHandler {

    private static final Logger log = LoggerFactory.getLogger(ProtocolHandler.class);

    private final ProtocolCodec codec;
    private final ChatSession session;
    private final Subscriber out;
    private final TokenRenewal renewal;
    private final ServerMessage.Limits limits;

    public ProtocolHandler(ProtocolCodec codec, ChatSession session, Subscriber out, TokenRenewal renewal,
                           ServerConfig config) {
        this.codec = codec;
        this.session = session;
        this.out = out;
        this.renewal = renewal;
        session.onRemoved((room, reason) -> send(codec.encode(new ServerMessage.Removed(room, reason))));
        // Unasked, so without ref: the timed-out user's own sessions hear their timeout as it is applied.
        session.onTimeoutChanged((room, user, until) -> send(codec.encode(
                new ServerMessage.Moderated("timeout", room, user, until, null, true, null))));
        this.limits = new ServerMessage.Limits(config.maxMessageLength(), config.maxFrameBytes(),
                config.maxRoomsPerConnection(), config.historyOnJoin(),
                config.admission().sendsPerSecondPerConnection(), config.admission().requestsPerSecondPerConnection());
    }

    /** One text frame from the client. */
    public void onText(String text) {
        try {
            session.request();
        } catch (ChatException e) {
            // Not even parsed: a flood of anything is turned away at the cost of one reply.
            send(codec.error(e, null, null, null, null));
            return;
        }
        ProtocolCodec.Request request;
        try {
            request = codec.decode(text);
        } catch (ProtocolCodec.BadRequest e) {
            send(codec.error(new ChatException(e.code(), e.getMessage()), e.type(), null, null, e.ref()));
            return;
        }
        try {
            dispatch(request);
        } catch (ChatException e) {
            send(codec.error(e, request.type(), idOf(request.message()), roomOf(request.message()), request.ref()));
        } catch (RuntimeException e) {
            log.error("request {} failed", request.type(), e);
            send(codec.error(new ChatException(ErrorCode.INTERNAL_ERROR, "internal error"),
                    request.type(), idOf(request.message()), roomOf(request.message()), request.ref()));
        }
    }

    /**
     * A ping or pong from the client: a frame like any other for the connection's request rate.
     *
     * @return false if it is over the rate; a control frame cannot be answered with {@code rate_limited},
     *         so the transport closes the connection instead
     */
    public boolean onControlFrame() {
        try {
            session.request();
            return true;
        } catch (ChatException e) {
            return false;
        }
    }

    /** The connection is gone. */
    public void onClose() {
        session.close();
    }

    private void dispatch(ProtocolCodec.Request request) {
        JsonNode ref = request.ref();
        switch (request.message()) {
            case ClientMessage.Hello hello -> {
                Identity who = session.hello(hello.name());
                send(codec.encode(new ServerMessage.Welcome(session.id(), who.user(), who.name(), who.guest(),
                        who.roles(), who.validUntil() == null ? null : who.validUntil().toEpochMilli(),
                        ProtocolCodec.PROTOCOL, limits, ref)));
            }
            case ClientMessage.Join join -> session.join(join.room(), join.since(), new JoinListener() {
                @Override
                public void joined(int members, Replay replay) {
                    long since = join.since() == null ? -1 : join.since();
                    long timedOutUntil = session.timedOutUntil(join.room());
                    send(codec.encode(new ServerMessage.Joined(join.room(), replay.lastSeq(), replay.firstSeq(),
                            members, replay.complete(), replay.recovered(since),
                            timedOutUntil == 0 ? null : timedOutUntil,
                            ServerMessage.Message.of(replay.messages()), ref)));
                }

                @Override
                public void failed(Failure failure) {
                    send(codec.error(ChatSession.refused(failure), "join", null, join.room(), ref));
                }
            });
            case ClientMessage.Leave leave -> {
                session.leave(leave.room());
                send(codec.encode(new ServerMessage.Left(leave.room(), ref)));
            }
            case ClientMessage.Send s -> session.send(s.room(), s.id(), s.text(), new PublishListener() {
                @Override
                public void stored(StoredMessage m) {
                    send(codec.encode(new ServerMessage.Ack(m.id(), m.room(), m.seq(), m.time())));
                }

                @Override
                public void failed(Failure failure) {
                    send(codec.error(ChatSession.refused(failure), "send", s.id(), s.room(), ref));
                }
            });
            case ClientMessage.History h -> session.history(h.room(), h.before(), h.since(), h.limit())
                    .whenCompleteAsync((messages, error) -> {
                        if (error == null) {
                            send(codec.encode(ServerMessage.HistoryPage.of(h.room(),
                                    session.notAheadOfLive(h.room(), messages), ref)));
                        } else {
                            send(codec.error(readFailed("history of room " + h.room(), error), "history", null,
                                    h.room(), ref));
                        }
                    }, out.executor());
            case ClientMessage.Rooms r -> session.rooms(r.limit()).whenCompleteAsync((rooms, error) -> {
                if (error == null) {
                    send(codec.encode(ServerMessage.Rooms.of(rooms, ref)));
                } else {
                    send(codec.error(readFailed("the rooms list", error), "rooms", null, null, ref));
                }
            }, out.executor());
            case ClientMessage.Members m -> session.members(m.room(), m.after(), m.limit(), new MembersListener() {
                @Override
                public void answered(MembersPage page) {
                    send(codec.encode(ServerMessage.MembersPage.of(m.room(), page, ref)));
                }

                @Override
                public void failed(Failure failure) {
                    send(codec.error(ChatSession.refused(failure), "members", null, m.room(), ref));
                }
            });
            case ClientMessage.Delete d -> session.delete(d.room(), d.seq(), false, deleteReply("delete", d.room(), ref));
            case ClientMessage.Clear c -> session.delete(c.room(), c.upTo(), true, deleteReply("clear", c.room(), ref));
            case ClientMessage.Ban b -> answerModeration("ban", b.room(), b.user(), session.requests()
                    .ban(session.identityOrRefuse(), b.room(), b.user()).thenApply(x -> new Outcome(true, null, null)), ref);
            case ClientMessage.Unban u -> answerModeration("unban", u.room(), u.user(), session.requests()
                    .unban(session.identityOrRefuse(), u.room(), u.user()).thenApply(lifted -> new Outcome(lifted, null, null)),
                    ref);
            case ClientMessage.Timeout t -> answerModeration("timeout", t.room(), t.user(), session.requests()
                    .timeout(session.identityOrRefuse(), t.room(), t.user(), t.seconds())
                    .thenApply(x -> new Outcome(true, t.seconds() == 0 ? null : x.until(), null)), ref);
            case ClientMessage.Slow sl -> answerModeration("slow", sl.room(), null, session.requests()
                    .slow(session.identityOrRefuse(), sl.room(), sl.seconds())
                    .thenApply(seconds -> new Outcome(true, null, seconds)), ref);
            case ClientMessage.Audit a -> session.requests().audit(session.identityOrRefuse(), a.room(), a.before(),
                    a.limit()).whenCompleteAsync((entries, error) -> {
                        if (error == null) {
                            send(codec.encode(ServerMessage.AuditPage.of(a.room(), entries,
                                    a.limit() == null ? RoomRequests.DEFAULT_AUDIT_LIMIT : a.limit(), ref)));
                        } else {
                            send(codec.error(readFailed("the audit log of room " + a.room(), error), "audit", null,
                                    a.room(), ref));
                        }
                    }, out.executor());
            case ClientMessage.Ping ignored -> send(codec.encode(new ServerMessage.Pong(ref)));
            case ClientMessage.Refresh refresh -> {
                Identity renewed = session.renew(renewal.verify(refresh.token()));
                renewal.expireAt(renewed.validUntil());
                send(codec.encode(new ServerMessage.Refreshed(renewed.validUntil().toEpochMilli(), ref)));
            }
            case ClientMessage.RoomSettings r -> send(codec.encode(ServerMessage.RoomInfo.of(
                    access().settings(session.identity(), r.room()), ref)));
            case ClientMessage.Create c -> answer(access().create(session.identity(), c.room(), c.kind(), c.write()),
                    "create", c.room(), ref);
            case ClientMessage.SetRoom c -> answer(access().set(session.identity(), c.room(), c.kind(), c.write()),
                    "set", c.room(), ref);
            case ClientMessage.Grant g -> answer(access().grant(session.identity(), g.room(), g.user(), g.role()),
                    "grant", g.room(), ref);
            case ClientMessage.Revoke r -> answer(access().revoke(session.identity(), r.room(), r.user()),
                    "revoke", r.room(), ref);
        }
    }

    /**
     * What a client is told when a read off the event loop failed: the store's or the engine's refusal,
     * or a bug (logged). The HTTP API tells its clients the same.
     */
    public static ChatException readFailed(String what, Throwable error) {
        Throwable cause = error instanceof CompletionException ? error.getCause() : error;
        if (cause instanceof StoreException) {
            log.error("{} failed", what, cause);
            return ChatSession.refused(Failure.STORE_UNAVAILABLE);
        }
        if (cause instanceof Refused refused) {
            return ChatSession.refused(refused.failure());
        }
        log.error("{} failed", what, cause);
        return new ChatException(ErrorCode.INTERNAL_ERROR, "internal error");
    }

    private RoomAccess access() {
        session.requireHello();
        return session.access();
    }

    /** Answers a room change once the database took it, on the connection's loop. */
    private void answer(CompletableFuture<RoomRecord> change, String type, String room, JsonNode ref) {
        change.whenCompleteAsync((record, failure) -> {
            if (failure == null) {
                send(codec.encode(ServerMessage.RoomInfo.of(record, ref)));
            } else {
                send(codec.error(RoomAccess.failure(failure), type, null, room, ref));
            }
        }, out.executor());
    }

    /** The answer to a moderator's {@code ban}, {@code unban} or {@code timeout}, once it is in the database. */
    private void answerModeration(String action, String room, String user, CompletableFuture<Outcome> done,
                                  JsonNode ref) {
        done.whenCompleteAsync((outcome, error) -> {
            if (error == null) {
                send(codec.encode(new ServerMessage.Moderated(action, room, user, outcome.until(), outcome.seconds(),
                        outcome.changed(), ref)));
                return;
            }
            send(codec.error(readFailed(action + " in room " + room, error), action, null, room, ref));
        }, out.executor());
    }

    /** What a ban, unban, timeout or slow did: whether anything changed, a timeout's end, a slow mode's seconds. */
    private record Outcome(boolean changed, Long until, Integer seconds) { }

    /** The answer to a moderator's {@code delete} or {@code clear}. */
    private DeleteListener deleteReply(String type, String room, JsonNode ref) {
        return new DeleteListener() {
            @Override
            public void deleted(Tombstones t) {
                if (t.seqs().isEmpty() && type.equals("delete")) {
                    send(codec.error(ChatSession.nothingToDelete(t), type, null, room, ref));
                } else {
                    send(codec.encode(ProtocolCodec.deletion(t, t.seqs().size(), ref)));
                }
            }

            @Override
            public void failed(Failure failure) {
                send(codec.error(ChatSession.refused(failure), type, null, room, ref));
            }
        };
    }

    private void send(byte[] frame) {
        out.deliver(frame);
        out.flush();
    }

    private static String idOf(ClientMessage m) {
        return m instanceof ClientMessage.Send s ? s.id() : null;
    }

    private static String roomOf(ClientMessage m) {
        return switch (m) {
            case ClientMessage.Join j -> j.room();
            case ClientMessage.Leave l -> l.room();
            case ClientMessage.Send s -> s.room();
            case ClientMessage.History h -> h.room();
            case ClientMessage.Members list -> list.room();
            case ClientMessage.Delete d -> d.room();
            case ClientMessage.Clear c -> c.room();
            case ClientMessage.Ban b -> b.room();
            case ClientMessage.Unban u -> u.room();
            case ClientMessage.Timeout t -> t.room();
            case ClientMessage.Slow sl -> sl.room();
            case ClientMessage.Audit a -> a.room();
            case ClientMessage.Rooms ignored -> null;
            case ClientMessage.Hello ignored -> null;
            case ClientMessage.Ping ignored -> null;
            case ClientMessage.Refresh ignored -> null;
            case ClientMessage.Create c -> c.room();
            case ClientMessage.RoomSettings r -> r.room();
            case ClientMessage.SetRoom r -> r.room();
            case ClientMessage.Grant g -> g.room();
            case ClientMessage.Revoke r -> r.room();
        };
    }
}
