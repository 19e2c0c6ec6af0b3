package io.parley.protocol;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import io.parley.chat.ChatException;
import io.parley.chat.ErrorCode;
import io.parley.engine.BroadcastEncoder;
import io.parley.engine.Tombstones;
import io.parley.store.StoredMessage;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * JSON to requests and replies to JSON: the only place that knows the wire format.
 *
 * <p>Strict on input, because input comes from the network: a frame must be one JSON object, no
 * duplicate keys, no deeper than {@value #MAX_DEPTH} levels, and a field of the wrong JSON type is an
 * error rather than coerced ({@code "room": 5} is not room "5"). Unknown fields are ignored, so that
 * newer clients can talk to this server.
 *
 * <p>Thread-safe: Jackson's mapper and writer are, and this keeps no other state.
 */
public final class ProtocolCodec implements BroadcastEncoder {

    public static final String PROTOCOL = "parley.v1";
    private static final int MAX_DEPTH = 16;
    /** The request types, as {@link ClientMessage} declares them. */
    private static final Set<String> TYPES = Arrays.stream(ClientMessage.class.getAnnotation(JsonSubTypes.class).value())
            .map(JsonSubTypes.Type::name).collect(Collectors.toUnmodifiableSet());

    private final ObjectMapper mapper;
    private final ObjectWriter writer;

    public ProtocolCodec() {
        mapper = JsonMapper.builder()
                .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .build();
        mapper.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(MAX_DEPTH)
                .maxNumberLength(32)
                .build());
        mapper.coercionConfigFor(LogicalType.Integer).setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
        mapper.coercionConfigFor(LogicalType.Textual).setCoercion(CoercionInputShape.Integer, CoercionAction.Fail);
        mapper.coercionConfigFor(LogicalType.Textual).setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
        mapper.coercionConfigFor(LogicalType.Textual).setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail);
        writer = mapper.writerFor(ServerMessage.class);
    }

    /** A decoded request, with what the reply must echo. */
    public record Request(ClientMessage message, String type, JsonNode ref) { }

    /** A frame that is not a valid request; the reply still names the request and its ref if it can. */
    public static final class BadRequest extends Exception {
        private final ErrorCode code;
        private final String type;
        private final transient JsonNode ref;

        BadRequest(ErrorCode code, String message, String type, JsonNode ref) {
            super(message, null, false, false);
            this.code = code;
            this.type = type;
            this.ref = ref;
        }

        public ErrorCode code() {
            return code;
        }

        public String type() {
            return type;
        }

        public JsonNode ref() {
            return ref;
        }
    }

    public Request decode(String text) throws BadRequest {
        JsonNode tree;
        try {
            tree = mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw new BadRequest(ErrorCode.BAD_JSON, "not valid JSON: " + e.getOriginalMessage(), null, null);
        }
        if (tree == null || !tree.isObject()) {
            throw new BadRequest(ErrorCode.BAD_JSON, "a frame must be one JSON object", null, null);
        }
        JsonNode ref = tree.get("ref");
        if (ref != null && !(ref.isTextual() || ref.isIntegralNumber()) || ref != null && ref.toString().length() > 100) {
            throw new BadRequest(ErrorCode.BAD_REQUEST, "ref must be a string or a whole number, at most 100 characters",
                    null, null);
        }
        JsonNode typeNode = tree.get("type");
        String type = typeNode != null && typeNode.isTextual() ? typeNode.asText() : null;
        if (type == null || !TYPES.contains(type)) {
            throw new BadRequest(ErrorCode.UNKNOWN_TYPE, "type must be one of "
                    + TYPES.stream().sorted().collect(Collectors.joining(", ")), type, ref);
        }
        try {
            return new Request(mapper.treeToValue(tree, ClientMessage.class), type, ref);
        } catch (MismatchedInputException e) {
            throw new BadRequest(ErrorCode.BAD_REQUEST, describe(e), type, ref);
        } catch (JsonProcessingException e) {
            throw new BadRequest(ErrorCode.BAD_REQUEST, "malformed " + type + " request", type, ref);
        }
    }

    /** The body of {@code POST /api/rooms/{room}/messages}. */
    public record Post(@JsonProperty(required = true) String id, @JsonProperty(required = true) String text) { }

    /** Decodes an HTTP API message body, as strictly as a WebSocket frame. */
    public Post decodePost(String body) throws BadRequest {
        return decodeBody(body, Post.class, "send");
    }

    /** The body of {@code POST /api/rooms/{room}/bans} and {@code .../timeouts} ({@code seconds} for a timeout). */
    public record SanctionBody(@JsonProperty(required = true) String user, Long seconds) { }

    public SanctionBody decodeSanction(String body, String request) throws BadRequest {
        return decodeBody(body, SanctionBody.class, request);
    }

    /** The body of {@code POST /api/rooms/{room}/slow}. */
    public record SlowBody(@JsonProperty(required = true) Long seconds) { }

    public SlowBody decodeSlow(String body) throws BadRequest {
        return decodeBody(body, SlowBody.class, "slow");
    }

    /** The body of {@code POST /api/rooms/{room}/clear}. */
    public record ClearBody(@JsonProperty(required = true) Long upTo) { }

    public ClearBody decodeClear(String body) throws BadRequest {
        return decodeBody(body, ClearBody.class, "clear");
    }

    /**
     * The body of {@code POST /api/rooms} ({@code room} required there) and {@code PATCH /api/rooms/{room}}
     * (where {@code room} is the path's); absent settings take their defaults, or keep their values.
     */
    public record RoomBody(String room, String kind, String write) { }

    /** The body of {@code POST /api/rooms/{room}/roles/{user}}. */
    public record RoleBody(@JsonProperty(required = true) String role) { }

    /** Decodes an HTTP API body of {@code type} for the request named {@code request}, as strictly as a frame. */
    public <T> T decodeBody(String body, Class<T> type, String request) throws BadRequest {
        JsonNode tree;
        try {
            tree = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            throw new BadRequest(ErrorCode.BAD_JSON, "not valid JSON: " + e.getOriginalMessage(), request, null);
        }
        if (tree == null || !tree.isObject()) {
            throw new BadRequest(ErrorCode.BAD_JSON, "the body must be one JSON object", request, null);
        }
        try {
            return mapper.treeToValue(tree, type);
        } catch (MismatchedInputException e) {
            throw new BadRequest(ErrorCode.BAD_REQUEST, describe(e), request, null);
        } catch (JsonProcessingException e) {
            throw new BadRequest(ErrorCode.BAD_REQUEST, "malformed " + request + " body", request, null);
        }
    }

    private static String describe(MismatchedInputException e) {
        String field = e.getPath().stream()
                .map(JsonMappingException.Reference::getFieldName)
                .filter(f -> f != null)
                .collect(Collectors.joining("."));
        String message = e.getOriginalMessage();
        if (message != null && message.startsWith("Missing required creator property")) {
            int start = message.indexOf('\'');
            int end = message.indexOf('\'', start + 1);
            return "missing field '" + (start >= 0 && end > start ? message.substring(start + 1, end) : "?") + "'";
        }
        return field.isEmpty() ? "a field has the wrong type" : "field '" + field + "' has the wrong type";
    }

    public byte[] encode(ServerMessage message) {
        try {
            return writer.writeValueAsBytes(message);
        } catch (JsonProcessingException e) {
            // Our own records always serialize; failing here is a bug, not bad input.
            throw new IllegalStateException("cannot encode " + message.getClass().getSimpleName(), e);
        }
    }

    public byte[] error(ChatException e, String request, String id, String room, JsonNode ref) {
        Long retryAfter = e.retryAfterMillis() > 0 ? e.retryAfterMillis() : null;
        Long until = e.until() > 0 ? e.until() : null;
        return encode(new ServerMessage.ErrorReply(e.code().wire(), e.getMessage(), request, id, room, retryAfter,
                until, ref));
    }

    @Override
    public byte[] message(StoredMessage message) {
        return encode(ServerMessage.Message.of(message));
    }

    @Override
    public byte[] tombstones(Tombstones t) {
        return encode(deletion(t, null, null));
    }

    /**
     * What tells of a deletion: {@code deleted} for one message, {@code cleared} for a range. With
     * {@code ref}, the reply to the moderator, which also counts a clear's tombstones.
     */
    public static ServerMessage deletion(Tombstones t, Integer count, JsonNode ref) {
        return t.single()
                ? new ServerMessage.Deleted(t.room(), t.upTo(), t.by(), t.at(), ref)
                : new ServerMessage.Cleared(t.room(), t.upTo(), t.by(), t.at(), count, ref);
    }

    @Override
    public byte[] presence(String room, int members, List<String> joined, List<String> left) {
        return encode(new ServerMessage.Presence(room, members, joined, left, null));
    }

    @Override
    public byte[] presenceCount(String room, int members) {
        return encode(new ServerMessage.Presence(room, members, List.of(), List.of(), true));
    }
}
