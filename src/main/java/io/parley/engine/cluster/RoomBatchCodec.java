package io.parley.engine.cluster;

import io.parley.store.StoredMessage;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The bytes one node publishes on a room's Redis channel: a {@link Batch} of stored messages
 * (one per room per sequencer batch), a {@link Presence} change (names that joined or left on the
 * sending node), a {@link Deletion} a moderator made there, or a {@link Notice} that something the
 * nodes keep of the room changed in the database. Each carries the sender's node id.
 *
 * <p><b>Why binary.</b> Every payload is encoded once by the sending node and decoded once by each
 * other node, on its hot path. A hand-written length-prefixed layout needs no reflection, no field
 * names on the wire and no intermediate tree: a batch of short messages is about the size of its
 * texts plus ~20 bytes per message, where the same batch as JSON repeats six field names per message.
 * The layout is small enough to read in full below, which JSON's generality would not buy us here.
 *
 * <p><b>Layout</b> (big-endian; a <em>string</em> is a varint byte length then strict UTF-8; a
 * <em>varint</em> is unsigned LEB128, at most 5 bytes):
 * <pre>
 *   byte    version (1)
 *   byte    kind: 1 = batch, 2 = presence, 3 = deletion, 4 = notice
 *   string  node id
 *   string  room
 *   batch:    varint n (>= 1), then n times: long seq, string id, string user, string from,
 *             string text, long time            (seqs strictly ascending, all >= 1)
 *   presence: varint j, j strings (joined), varint l, l strings (left)   (j + l >= 1)
 *   deletion: long after, long upTo, string by, long at      (0 <= after < upTo)
 *   notice:   string topic                                   (1 to 64 characters)
 * </pre>
 * Nothing may follow. The room is written once per batch: every message of a batch is of that room.
 * Strings round-trip exactly when they are valid Unicode, which Parley's rules ensure for what it
 * stores (ChatRules refuses a text with an unpaired surrogate; the encoder would write one as '?').
 *
 * <p><b>Untrusted input.</b> A payload comes from Redis, where anything that can reach Redis can
 * publish. {@link #decode} checks every length against the bytes that remain before allocating,
 * rejects malformed UTF-8, unknown versions or kinds, room names outside Parley's rule, descending
 * seqs and trailing bytes, and reports each as a {@link MalformedPayloadException} with the reason.
 * It never allocates more than a small multiple of the payload's own size.
 *
 * <p>Stateless; any thread.
 */
public final class RoomBatchCodec {

    private static final byte VERSION = 1;
    private static final byte KIND_BATCH = 1;
    private static final byte KIND_PRESENCE = 2;
    private static final byte KIND_DELETION = 3;
    private static final byte KIND_NOTICE = 4;
    static final int MAX_TOPIC = 64;
    /** Same rule as ChatRules' room names: safe inside a Redis hash tag {@code {room}}. */
    static final Pattern ROOM = Pattern.compile("[A-Za-z0-9_.-]{1,64}");
    /** A node id is chosen by a node; bounded so that an envelope's header stays small. */
    static final int MAX_NODE_ID = 64;
    /** Fixed bytes per message besides its strings: two longs and five length prefixes of >= 1 byte. */
    private static final int MIN_MESSAGE_BYTES = 8 + 8 + 4;

    private RoomBatchCodec() {
    }

    /** What a payload decodes to. */
    public sealed interface Payload permits Batch, Presence, Deletion, Notice {
        String nodeId();

        String room();
    }

    /** Messages of one room, committed by node {@code nodeId}, seqs ascending. */
    public record Batch(String nodeId, String room, List<StoredMessage> messages) implements Payload {
        public Batch {
            messages = List.copyOf(messages);
        }
    }

    /** Names that joined and left {@code room} on node {@code nodeId}, one entry per subscription. */
    public record Presence(String nodeId, String room, List<String> joined, List<String> left) implements Payload {
        public Presence {
            joined = List.copyOf(joined);
            left = List.copyOf(left);
        }
    }

    /** Messages {@code after < seq <= upTo} of {@code room} deleted by {@code by} at {@code at}, on node {@code nodeId}. */
    public record Deletion(String nodeId, String room, long after, long upTo, String by, long at) implements Payload {
    }

    /** Something of {@code room} named by {@code topic} changed in the database, says node {@code nodeId}. */
    public record Notice(String nodeId, String room, String topic) implements Payload {
    }

    /** Thrown by {@link #decode} for bytes that are not a payload this version wrote. */
    public static final class MalformedPayloadException extends RuntimeException {
        MalformedPayloadException(String reason) {
            super("malformed room payload: " + reason);
        }
    }

    /** Encodes a batch: every message must be of the same room, seqs ascending. */
    public static byte[] encodeBatch(String nodeId, List<StoredMessage> messages) {
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("a batch has at least one message");
        }
        String room = messages.getFirst().room();
        Writer w = new Writer(64 + messages.size() * 64);
        header(w, KIND_BATCH, nodeId, room);
        w.varint(messages.size());
        long last = 0;
        for (StoredMessage m : messages) {
            if (!m.room().equals(room)) {
                throw new IllegalArgumentException("a batch is of one room: " + room + " and " + m.room());
            }
            if (m.seq() <= last) {
                throw new IllegalArgumentException("seqs must ascend: " + m.seq() + " after " + last);
            }
            last = m.seq();
            w.longValue(m.seq());
            w.string(m.id());
            w.string(m.user());
            w.string(m.from());
            w.string(m.text());
            w.longValue(m.time());
        }
        return w.bytes();
    }

    /** Encodes a presence change; at least one name joined or left. */
    public static byte[] encodePresence(String nodeId, String room, List<String> joined, List<String> left) {
        if (joined.isEmpty() && left.isEmpty()) {
            throw new IllegalArgumentException("a presence change names someone");
        }
        Writer w = new Writer(64 + (joined.size() + left.size()) * 16);
        header(w, KIND_PRESENCE, nodeId, room);
        w.varint(joined.size());
        joined.forEach(w::string);
        w.varint(left.size());
        left.forEach(w::string);
        return w.bytes();
    }

    /** Encodes a moderator's deletion of the messages {@code after < seq <= upTo}. */
    public static byte[] encodeDeletion(String nodeId, String room, long after, long upTo, String by, long at) {
        if (after < 0 || upTo <= after) {
            throw new IllegalArgumentException("a deletion is of seqs after " + after + " up to " + upTo);
        }
        Writer w = new Writer(64 + by.length());
        header(w, KIND_DELETION, nodeId, room);
        w.longValue(after);
        w.longValue(upTo);
        w.string(by);
        w.longValue(at);
        return w.bytes();
    }

    /** Encodes a notice that {@code topic} of {@code room} changed. */
    public static byte[] encodeNotice(String nodeId, String room, String topic) {
        if (topic.isEmpty() || topic.length() > MAX_TOPIC) {
            throw new IllegalArgumentException("a topic is 1 to " + MAX_TOPIC + " characters");
        }
        Writer w = new Writer(64 + topic.length());
        header(w, KIND_NOTICE, nodeId, room);
        w.string(topic);
        return w.bytes();
    }

    private static void header(Writer w, byte kind, String nodeId, String room) {
        if (nodeId.isEmpty() || nodeId.length() > MAX_NODE_ID) {
            throw new IllegalArgumentException("node id must be 1 to " + MAX_NODE_ID + " characters");
        }
        if (!ROOM.matcher(room).matches()) {
            throw new IllegalArgumentException("not a room name: " + room);
        }
        w.out.write(VERSION);
        w.out.write(kind);
        w.string(nodeId);
        w.string(room);
    }

    /**
     * Decodes a payload that arrived on {@code channelRoom}'s channel: one naming another room is as
     * malformed as garbage (a sender must not make one room's members see another's messages).
     */
    public static Payload decode(byte[] bytes, String channelRoom) {
        Payload payload = decode(bytes);
        if (!payload.room().equals(channelRoom)) {
            throw new MalformedPayloadException("room " + payload.room() + " on the channel of " + channelRoom);
        }
        return payload;
    }

    /** Decodes a payload, or throws {@link MalformedPayloadException} saying what is wrong with it. */
    public static Payload decode(byte[] bytes) {
        Reader r = new Reader(bytes);
        byte version = r.oneByte("version");
        if (version != VERSION) {
            throw new MalformedPayloadException("unknown version " + version);
        }
        byte kind = r.oneByte("kind");
        String nodeId = r.string("node id");
        if (nodeId.isEmpty() || nodeId.length() > MAX_NODE_ID) {
            throw new MalformedPayloadException("node id of " + nodeId.length() + " characters");
        }
        String room = r.string("room");
        if (!ROOM.matcher(room).matches()) {
            throw new MalformedPayloadException("not a room name");
        }
        Payload payload = switch (kind) {
            case KIND_BATCH -> batch(r, nodeId, room);
            case KIND_PRESENCE -> presence(r, nodeId, room);
            case KIND_DELETION -> deletion(r, nodeId, room);
            case KIND_NOTICE -> notice(r, nodeId, room);
            default -> throw new MalformedPayloadException("unknown kind " + kind);
        };
        if (r.buffer.hasRemaining()) {
            throw new MalformedPayloadException(r.buffer.remaining() + " bytes after the end");
        }
        return payload;
    }

    private static Batch batch(Reader r, String nodeId, String room) {
        int n = r.count("message count", MIN_MESSAGE_BYTES);
        if (n == 0) {
            throw new MalformedPayloadException("empty batch");
        }
        List<StoredMessage> messages = new ArrayList<>(n);
        long last = 0;
        for (int i = 0; i < n; i++) {
            long seq = r.longValue("seq");
            if (seq <= last) {
                throw new MalformedPayloadException("seq " + seq + " after " + last);
            }
            last = seq;
            String id = r.string("id");
            String user = r.string("user");
            String from = r.string("from");
            String text = r.string("text");
            long time = r.longValue("time");
            messages.add(new StoredMessage(room, seq, id, user, from, text, time));
        }
        return new Batch(nodeId, room, messages);
    }

    private static Deletion deletion(Reader r, String nodeId, String room) {
        long after = r.longValue("after");
        long upTo = r.longValue("upTo");
        if (after < 0 || upTo <= after) {
            throw new MalformedPayloadException("deletion of seqs after " + after + " up to " + upTo);
        }
        String by = r.string("by");
        long at = r.longValue("at");
        return new Deletion(nodeId, room, after, upTo, by, at);
    }

    private static Notice notice(Reader r, String nodeId, String room) {
        String topic = r.string("topic");
        if (topic.isEmpty() || topic.length() > MAX_TOPIC) {
            throw new MalformedPayloadException("topic of " + topic.length() + " characters");
        }
        return new Notice(nodeId, room, topic);
    }

    private static Presence presence(Reader r, String nodeId, String room) {
        List<String> joined = names(r, "joined");
        List<String> left = names(r, "left");
        if (joined.isEmpty() && left.isEmpty()) {
            throw new MalformedPayloadException("presence change names nobody");
        }
        return new Presence(nodeId, room, joined, left);
    }

    private static List<String> names(Reader r, String what) {
        int n = r.count(what + " count", 1);
        List<String> names = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            names.add(r.string(what + " name"));
        }
        return names;
    }

    private static final class Writer {
        final ByteArrayOutputStream out;

        Writer(int size) {
            out = new ByteArrayOutputStream(size);
        }

        void varint(int v) {
            while ((v & ~0x7F) != 0) {
                out.write((v & 0x7F) | 0x80);
                v >>>= 7;
            }
            out.write(v);
        }

        void longValue(long v) {
            for (int shift = 56; shift >= 0; shift -= 8) {
                out.write((int) (v >>> shift));
            }
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            varint(b.length);
            out.write(b, 0, b.length);
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    private static final class Reader {
        final ByteBuffer buffer;
        final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);

        Reader(byte[] bytes) {
            buffer = ByteBuffer.wrap(bytes);
        }

        byte oneByte(String what) {
            need(1, what);
            return buffer.get();
        }

        long longValue(String what) {
            need(8, what);
            return buffer.getLong();
        }

        int varint(String what) {
            int value = 0;
            for (int shift = 0; shift < 35; shift += 7) {
                byte b = oneByte(what);
                if (shift == 28 && (b & 0xF8) != 0) {
                    // A fifth byte may only carry bits 28..30: a length or count is a non-negative int.
                    throw new MalformedPayloadException(what + " is out of range");
                }
                value |= (b & 0x7F) << shift;
                if ((b & 0x80) == 0) {
                    return value;
                }
            }
            throw new MalformedPayloadException(what + " is out of range");
        }

        /** A count of entries each at least {@code minBytes} long: never more than the bytes left allow. */
        int count(String what, int minBytes) {
            int n = varint(what);
            if ((long) n * minBytes > buffer.remaining()) {
                throw new MalformedPayloadException(what + " " + n + " exceeds the payload");
            }
            return n;
        }

        String string(String what) {
            int length = varint(what + " length");
            need(length, what);
            ByteBuffer slice = buffer.slice(buffer.position(), length);
            buffer.position(buffer.position() + length);
            try {
                CharBuffer chars = utf8.reset().decode(slice);
                return chars.toString();
            } catch (CharacterCodingException e) {
                throw new MalformedPayloadException(what + " is not UTF-8");
            }
        }

        private void need(int n, String what) {
            if (buffer.remaining() < n) {
                throw new MalformedPayloadException("truncated in " + what);
            }
        }
    }
}
