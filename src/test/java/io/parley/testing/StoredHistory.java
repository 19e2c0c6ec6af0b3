package io.parley.testing;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Map.Entry;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What a room holds, read two independent ways: straight from the SQLite file in a data directory (or
 * from PostgreSQL), and
 * through the protocol by a fresh client that re-joins with {@code since} 0 and pages on with
 * {@code history}. Tests compare what clients saw against these.
 */
public final class StoredHistory {

    private static final AtomicInteger READERS = new AtomicInteger();

    private StoredHistory() {
    }

    /** One stored message: its place in the room and what identifies it. */
    public record Row(String room, long seq, String id, String text) {
        public static Row of(JsonNode message) {
            return new Row(message.get("room").asText(), message.get("seq").asLong(), message.get("id").asText(),
                    message.get("text").asText());
        }
    }

    /** Every room's messages in seq order, from {@code parley.db} in {@code dataDir}. */
    public static Map<String, List<Row>> fromFile(Path dataDir) throws SQLException {
        Map<String, List<Row>> rooms = new LinkedHashMap<>();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + dataDir.resolve("parley.db").toAbsolutePath());
             PreparedStatement ps = c.prepareStatement("SELECT room, seq, id, text FROM messages ORDER BY room, seq");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Row row = new Row(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4));
                rooms.computeIfAbsent(row.room(), r -> new ArrayList<>()).add(row);
            }
        }
        return rooms;
    }

    /** Every room's messages in seq order, from the PostgreSQL database at {@code url} (PostgresProcess's form). */
    public static Map<String, List<Row>> fromPostgres(String url) throws SQLException {
        Map<String, List<Row>> rooms = new LinkedHashMap<>();
        try (Connection c = PostgresProcess.connect(url);
             PreparedStatement ps = c.prepareStatement("SELECT room, seq, client_id, body FROM messages ORDER BY room, seq");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Row row = new Row(rs.getString(1), rs.getLong(2), rs.getString(3), rs.getString(4));
                rooms.computeIfAbsent(row.room(), r -> new ArrayList<>()).add(row);
            }
        }
        return rooms;
    }

    /** A room's messages in seq order, as the server at {@code chat} hands them to a client catching up from 0. */
    public static List<JsonNode> viaProtocol(URI chat, String room) {
        try (WsClient reader = WsClient.hello(chat, "reader-" + READERS.incrementAndGet())) {
            JsonNode joined = reader.join(room, 0);
            long upTo = joined.get("seq").asLong();
            List<JsonNode> messages = new ArrayList<>();
            joined.get("history").forEach(messages::add);
            long last = messages.isEmpty() ? 0 : messages.getLast().get("seq").asLong();
            while (last < upTo) {
                reader.send(Map.of("type", "history", "room", room, "since", last, "limit", 500));
                JsonNode page = reader.expect("history", m -> room.equals(m.path("room").asText()));
                if (page.get("messages").isEmpty()) {
                    throw new AssertionError("history of " + room + " ends at " + last + " but joined said " + upTo);
                }
                for (JsonNode m : page.get("messages")) {
                    if (m.get("seq").asLong() > last) {
                        messages.add(m);
                        last = m.get("seq").asLong();
                    }
                }
            }
            return messages;
        }
    }

    /** Seqs 1..n without a gap or a repeat; otherwise says where it breaks. */
    public static void assertGapless(String room, List<Long> seqs) {
        for (int i = 0; i < seqs.size(); i++) {
            if (seqs.get(i) != i + 1) {
                throw new AssertionError("room " + room + ": seq #" + (i + 1) + " is " + seqs.get(i)
                        + " (around " + seqs.subList(Math.max(0, i - 3), Math.min(seqs.size(), i + 3)) + ")");
            }
        }
    }

    /** Rows by (room, id): how many times each id is stored in each room. */
    public static Map<String, Integer> idCounts(Map<String, List<Row>> rooms) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (Entry<String, List<Row>> e : rooms.entrySet()) {
            for (Row r : e.getValue()) {
                counts.merge(e.getKey() + "/" + r.id(), 1, Integer::sum);
            }
        }
        return counts;
    }
}
