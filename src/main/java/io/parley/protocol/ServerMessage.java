package io.parley.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import io.parley.store.StoredMessage;

import java.util.List;

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
        @JsonSubTypes.Type(value = ServerMessage.Pong.class, name = "pong"),
        @JsonSubTypes.Type(value = ServerMessage.ErrorReply.class, name = "error"),
})
@JsonInclude(JsonInclude.Include.NON_NULL)
public sealed interface ServerMessage {

    record Welcome(String session, String name, String protocol, Limits limits, JsonNode ref)
            implements ServerMessage { }

    record Limits(int maxMessageLength, int maxFrameBytes, int maxRooms, int historyOnJoin) { }

    record Joined(String room, long seq, int members, boolean complete, List<Message> history, JsonNode ref)
            implements ServerMessage { }

    record Left(String room, JsonNode ref) implements ServerMessage { }

    record Message(String room, long seq, String id, String from, String text, long time)
            implements ServerMessage {

        static Message of(StoredMessage m) {
            return new Message(m.room(), m.seq(), m.id(), m.from(), m.text(), m.time());
        }

        static List<Message> of(List<StoredMessage> messages) {
            return messages.stream().map(Message::of).toList();
        }
    }

    record Ack(String id, String room, long seq, long time) implements ServerMessage { }

    record Presence(String room, int members, List<String> joined, List<String> left) implements ServerMessage { }

    record HistoryPage(String room, List<Message> messages, JsonNode ref) implements ServerMessage { }

    record Pong(JsonNode ref) implements ServerMessage { }

    /**
     * @param request the failed request's type, when known
     * @param id      the failed {@code send}'s id
     * @param room    the room the failed request named
     */
    record ErrorReply(String code, String message, String request, String id, String room, JsonNode ref)
            implements ServerMessage { }
}
