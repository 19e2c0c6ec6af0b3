package io.parley.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * Requests a client sends, one record per {@code type} of docs/PROTOCOL.md. Fields marked required
 * must be present; their values are checked by the chat layer.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = ClientMessage.Hello.class, name = "hello"),
        @JsonSubTypes.Type(value = ClientMessage.Join.class, name = "join"),
        @JsonSubTypes.Type(value = ClientMessage.Leave.class, name = "leave"),
        @JsonSubTypes.Type(value = ClientMessage.Send.class, name = "send"),
        @JsonSubTypes.Type(value = ClientMessage.History.class, name = "history"),
        @JsonSubTypes.Type(value = ClientMessage.Members.class, name = "members"),
        @JsonSubTypes.Type(value = ClientMessage.Rooms.class, name = "rooms"),
        @JsonSubTypes.Type(value = ClientMessage.Ping.class, name = "ping"),
        @JsonSubTypes.Type(value = ClientMessage.Refresh.class, name = "refresh"),
        @JsonSubTypes.Type(value = ClientMessage.Delete.class, name = "delete"),
        @JsonSubTypes.Type(value = ClientMessage.Clear.class, name = "clear"),
        @JsonSubTypes.Type(value = ClientMessage.Ban.class, name = "ban"),
        @JsonSubTypes.Type(value = ClientMessage.Unban.class, name = "unban"),
        @JsonSubTypes.Type(value = ClientMessage.Timeout.class, name = "timeout"),
        @JsonSubTypes.Type(value = ClientMessage.Slow.class, name = "slow"),
        @JsonSubTypes.Type(value = ClientMessage.Audit.class, name = "audit"),
        @JsonSubTypes.Type(value = ClientMessage.Create.class, name = "create"),
        @JsonSubTypes.Type(value = ClientMessage.RoomSettings.class, name = "room_settings"),
        @JsonSubTypes.Type(value = ClientMessage.SetRoom.class, name = "set"),
        @JsonSubTypes.Type(value = ClientMessage.Grant.class, name = "grant"),
        @JsonSubTypes.Type(value = ClientMessage.Revoke.class, name = "revoke"),
})
public sealed interface ClientMessage {

    /** {@code name} is required of guests; a user with a token is named by the token. */
    record Hello(String name) implements ClientMessage { }

    record Join(@JsonProperty(required = true) String room, Long since) implements ClientMessage { }

    record Leave(@JsonProperty(required = true) String room) implements ClientMessage { }

    record Send(@JsonProperty(required = true) String room,
                @JsonProperty(required = true) String id,
                @JsonProperty(required = true) String text) implements ClientMessage { }

    record History(@JsonProperty(required = true) String room, Long before, Long since, Integer limit)
            implements ClientMessage { }

    /** One page of a room's member list: those who joined after cursor {@code after} (absent: from the start). */
    record Members(@JsonProperty(required = true) String room, Long after, Integer limit) implements ClientMessage { }

    /** The rooms list: the most recently active rooms, at most {@code limit} (absent: 100). */
    record Rooms(Integer limit) implements ClientMessage { }

    record Ping() implements ClientMessage { }

    /** A moderator deletes message {@code seq} of {@code room}. */
    record Delete(@JsonProperty(required = true) String room, @JsonProperty(required = true) Long seq)
            implements ClientMessage { }

    /** A moderator bans user id {@code user} from {@code room}. */
    record Ban(@JsonProperty(required = true) String room, @JsonProperty(required = true) String user)
            implements ClientMessage { }

    record Unban(@JsonProperty(required = true) String room, @JsonProperty(required = true) String user)
            implements ClientMessage { }

    /** A moderator stops {@code user} sending to {@code room} for {@code seconds} (0: lifts it). */
    record Timeout(@JsonProperty(required = true) String room, @JsonProperty(required = true) String user,
                   @JsonProperty(required = true) Long seconds) implements ClientMessage { }

    /** A moderator puts {@code room} in slow mode: one message per user every {@code seconds} (0: off). */
    record Slow(@JsonProperty(required = true) String room, @JsonProperty(required = true) Long seconds)
            implements ClientMessage { }

    /** A moderator reads a page of the room's audit log, newest first, before entry id {@code before}. */
    record Audit(@JsonProperty(required = true) String room, Long before, Integer limit) implements ClientMessage { }

    /** A moderator deletes every message of {@code room} up to and including {@code upTo}. */
    record Clear(@JsonProperty(required = true) String room, @JsonProperty(required = true) Long upTo)
            implements ClientMessage { }

    /** A fresh token for the same user, before the connection's runs out. */
    record Refresh(@JsonProperty(required = true) String token) implements ClientMessage { }

    /** A new room; {@code kind} defaults to public, {@code write} to everyone. */
    record Create(@JsonProperty(required = true) String room, String kind, String write) implements ClientMessage { }

    record RoomSettings(@JsonProperty(required = true) String room) implements ClientMessage { }

    /** New settings for a room; an absent field keeps its value. */
    record SetRoom(@JsonProperty(required = true) String room, String kind, String write) implements ClientMessage { }

    record Grant(@JsonProperty(required = true) String room, @JsonProperty(required = true) String user,
                 @JsonProperty(required = true) String role) implements ClientMessage { }

    record Revoke(@JsonProperty(required = true) String room, @JsonProperty(required = true) String user)
            implements ClientMessage { }
}
