package io.parley.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import io.parley.chat.RoomAccess;
import io.parley.chat.RoomRequests;
import io.parley.engine.RoomListing;
import io.parley.store.AuditEntry;
import io.parley.store.RoomRecord;
import io.parley.store.StoredMessage;

import java.util.List;
import java.util.Map;

/**
 * What the server sends, one record per {@code type} of docs/PROTOCOL.md. {@code ref} echoes the
 * request's {@code ref} and is left out when the request had none.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = ServerMessage.Welcome.class, name = "welcome"),
        @JsonSubTypes.Type(value = ServerMessage.Joined.class, name = "joined"),
        @JsonSubTypes.Type(value = ServerMessage.Left.class, name = "left"),
        @JsonSubTypes.Type(value = ServerMessage.Message.class, name = "message"),
        @JsonSubTypes.Type(value = ServerMessage.Ack.class, name = "ack"),
        @JsonSubTypes.Type(value = ServerMessage.Presence.class, name = "presence"),
        @JsonSubTypes.Type(value = ServerMessage.HistoryPage.class, name = "history"),
        @JsonSubTypes.Type(value = ServerMessage.MembersPage.class, name = "members"),
        @JsonSubTypes.Type(value = ServerMessage.Rooms.class, name = "rooms"),
        @JsonSubTypes.Type(value = ServerMessage.Pong.class, name = "pong"),
        @JsonSubTypes.Type(value = ServerMessage.Refreshed.class, name = "refreshed"),
        @JsonSubTypes.Type(value = ServerMessage.Deleted.class, name = "deleted"),
        @JsonSubTypes.Type(value = ServerMessage.Cleared.class, name = "cleared"),
        @JsonSubTypes.Type(value = ServerMessage.Moderated.class, name = "moderated"),
        @JsonSubTypes.Type(value = ServerMessage.Removed.class, name = "removed"),
        @JsonSubTypes.Type(value = ServerMessage.AuditPage.class, name = "audit"),
        @JsonSubTypes.Type(value = ServerMessage.ErrorReply.class, name = "error"),
        @JsonSubTypes.Type(value = ServerMessage.RoomInfo.class, name = "room"),
})
@JsonInclude(JsonInclude.Include.NON_NULL)
public sealed interface ServerMessage {

    /**
     * @param guest      true when the connection has no token: its user id is {@code guest:<name>}
     * @param validUntil when the token's connection ends unless refreshed, ms since the epoch; null for a guest
     */
    record Welcome(String session, String user, String name, boolean guest, List<String> roles, Long validUntil,
                   String protocol, Limits limits, JsonNode ref) implements ServerMessage { }

    /** Rates are per second; 0 means no limit. */
    record Limits(int maxMessageLength, int maxFrameBytes, int maxRooms, int historyOnJoin,
                  int sendsPerSecond, int requestsPerSecond) { }

    /**
     * @param recovered     present when the join asked for {@code since}: false if messages after it are gone
     * @param timedOutUntil when the joining user's timeout in the room ends (ms since the epoch); absent when
     *                      it is not timed out there
     */
    record Joined(String room, long seq, long firstSeq, int members, boolean complete, Boolean recovered,
                  Long timedOutUntil, List<Message> history, JsonNode ref) implements ServerMessage { }

    record Left(String room, JsonNode ref) implements ServerMessage { }

    /**
     * @param text    absent when the message was deleted
     * @param deleted who deleted it and when; absent while it is not deleted
     */
    record Message(String room, long seq, String id, String user, String from, String text, long time,
                   Deletion deleted) implements ServerMessage {

        static Message of(StoredMessage m) {
            return m.deleted()
                    ? new Message(m.room(), m.seq(), m.id(), m.user(), m.from(), null, m.time(),
                            new Deletion(m.deletedBy(), m.deletedAt()))
                    : new Message(m.room(), m.seq(), m.id(), m.user(), m.from(), m.text(), m.time(), null);
        }

        public static List<Message> of(List<StoredMessage> messages) {
            return messages.stream().map(Message::of).toList();
        }
    }

    /** A tombstone's mark: the user id of the moderator who deleted the message, and when (ms since the epoch). */
    record Deletion(String by, long at) { }

    record Ack(String id, String room, long seq, long time) implements ServerMessage { }

    /**
     * Message {@code seq} was deleted: to the room's members (in the room's order, after the message),
     * and, with {@code ref}, to the moderator who asked.
     */
    record Deleted(String room, long seq, String by, long at, JsonNode ref) implements ServerMessage { }

    /**
     * Every message up to {@code upTo} not deleted before was deleted. {@code count}, in the reply to the
     * moderator only, is how many that was.
     */
    record Cleared(String room, long upTo, String by, long at, Integer count, JsonNode ref)
            implements ServerMessage { }

    /**
     * @param summary true when the room is too big to name its joins and leaves: {@code joined} and
     *                {@code left} are then empty and {@code members} is the news; absent otherwise
     */
    record Presence(String room, int members, List<String> joined, List<String> left, Boolean summary)
            implements ServerMessage { }

    /**
     * A page of a room's members, in the order they joined.
     *
     * @param members how many connections are in the room now
     * @param names   one name per connection on this page
     * @param next    the {@code after} of the next page; absent when this page reached the end
     */
    record MembersPage(String room, int members, List<String> names, Long next, JsonNode ref)
            implements ServerMessage {

        public static MembersPage of(String room, io.parley.engine.MembersPage page, JsonNode ref) {
            return new MembersPage(room, page.members(), page.names(), page.next() < 0 ? null : page.next(), ref);
        }
    }

    /**
     * An answer to {@code history} over WebSocket, or to a read, poll or long poll over HTTP. The HTTP
     * answers also say {@code seq}, {@code firstSeq}, {@code complete} and (with {@code since})
     * {@code recovered}, which a client without a {@code joined} needs; WebSocket leaves them out.
     */
    record HistoryPage(String room, List<Message> messages, Long seq, Long firstSeq, Boolean complete,
                       Boolean recovered, JsonNode ref) implements ServerMessage {

        public static HistoryPage of(String room, List<StoredMessage> messages, JsonNode ref) {
            return new HistoryPage(room, Message.of(messages), null, null, null, null, ref);
        }
    }

    /**
     * The answer to a moderator's {@code ban}, {@code unban}, {@code timeout} or {@code slow}: {@code action}
     * is the request's type, {@code until} a timeout's end (ms since the epoch), {@code seconds} a slow
     * mode's, {@code changed} false when an unban found nothing to lift.
     */
    record Moderated(String action, String room, String user, Long until, Integer seconds, boolean changed,
                     JsonNode ref) implements ServerMessage { }

    /**
     * A page of a room's audit log, newest first.
     *
     * @param next the {@code before} of the next (older) page; absent when this page is the last
     */
    record AuditPage(String room, List<AuditEntry> entries, Long next, JsonNode ref) implements ServerMessage {

        public static AuditPage of(String room, List<AuditEntry> entries, int limit, JsonNode ref) {
            return new AuditPage(room, entries, entries.size() < limit ? null : entries.getLast().id(), ref);
        }
    }


    /** The rooms list, most recently active first: the answer to {@code rooms} and {@code GET /api/rooms}. */
    record Rooms(List<RoomEntry> rooms, JsonNode ref) implements ServerMessage {

        public static Rooms of(List<RoomRequests.ListedRoom> rooms, JsonNode ref) {
            return new Rooms(rooms.stream().map(RoomEntry::of).toList(), ref);
        }
    }

    /**
     * One room of a list. Every field is always there, {@code lastTime} as null for a room without
     * messages, so that a client reads one shape.
     *
     * @param seq      the room's last message's seq, 0 for none
     * @param members  its member count, leases included
     * @param lastTime when its last message was stored, ms since the epoch; null when it has none
     * @param kind     {@code public} or {@code private}
     * @param write    who may write: {@code everyone}, {@code signed_in} or {@code members}
     * @param role     the asker's role in the room, null when it has none
     */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    record RoomEntry(String room, long seq, int members, Long lastTime, String kind, String write, String role) {

        static RoomEntry of(RoomRequests.ListedRoom listed) {
            RoomListing a = listed.activity();
            RoomAccess.Listed s = listed.settings();
            // A room nobody created has no record: public, and everyone writes.
            return new RoomEntry(a.room(), a.seq(), a.members(), a.lastTime(),
                    s == null ? "public" : s.room().kind(), s == null ? "everyone" : s.room().write(),
                    s == null ? null : s.role());
        }
    }

    record Pong(JsonNode ref) implements ServerMessage { }

    /** @param validUntil when the connection now ends unless refreshed again, ms since the epoch */
    record Refreshed(long validUntil, JsonNode ref) implements ServerMessage { }

    /**
     * @param request the failed request's type, when known
     * @param id      the failed {@code send}'s id
     * @param room    the room the failed request named
     * @param retryAfter milliseconds to wait before trying again ({@code rate_limited}, {@code timed_out}), else absent
     * @param until      when a timeout ends, ms since the epoch ({@code timed_out}), else absent
     */
    record ErrorReply(String code, String message, String request, String id, String room, Long retryAfter,
                      Long until, JsonNode ref) implements ServerMessage { }

    /**
     * A room's record: the answer to {@code create}, {@code room_settings}, {@code set}, {@code grant} and
     * {@code revoke}, over WebSocket and HTTP.
     *
     * @param roles user id to room role; only to those who may moderate the room, else absent
     */
    record RoomInfo(String room, String kind, String write, String createdBy, long createdAt,
                    Map<String, String> roles, JsonNode ref) implements ServerMessage {

        public static RoomInfo of(RoomRecord r, JsonNode ref) {
            return new RoomInfo(r.name(), r.kind(), r.write(), r.createdBy(), r.createdAt(),
                    r.roles().isEmpty() ? null : r.roles(), ref);
        }
    }

    /**
     * The server took this connection out of a room.
     *
     * @param reason {@code access_revoked} (its access to a private room ended) or {@code banned}
     */
    record Removed(String room, String reason) implements ServerMessage { }
}
