package io.parley.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * What a person in a chat sees: one line per message, presence change or error, flushed at once so
 * that whoever reads the output (a terminal, a pipe, a test) sees each line as it happens.
 *
 * <pre>
 * #12 [12:03] ada: hello
 * * bob joined (3 here)
 * ! not_member: not in room lobby
 * </pre>
 *
 * Callers serialise their calls ({@link ChatClient} prints under its lock), so lines never interleave.
 */
public final class Transcript {

    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm");

    private final PrintWriter out;
    private final ZoneId zone;

    public Transcript(PrintWriter out, ZoneId zone) {
        this.out = out;
        this.zone = zone;
    }

    /** A {@code message}: seq, the server's time of day, sender and text. */
    public void message(JsonNode message) {
        String clock = CLOCK.format(Instant.ofEpochMilli(message.path("time").asLong()).atZone(zone));
        line("#" + message.path("seq").asLong() + " [" + clock + "] "
                + message.path("from").asText() + ": " + message.path("text").asText());
    }

    /** A {@code presence}: who came, who went, how many connections are in the room now. */
    public void presence(JsonNode presence) {
        List<String> changes = new ArrayList<>();
        presence.path("joined").forEach(name -> changes.add(name.asText() + " joined"));
        presence.path("left").forEach(name -> changes.add(name.asText() + " left"));
        String here = presence.path("members").asInt() + " here";
        line(changes.isEmpty() ? "* " + here : "* " + String.join(", ", changes) + " (" + here + ")");
    }

    /** An {@code error} from the server, or one the client found before sending. */
    public void error(String code, String message) {
        line("! " + code + ": " + message);
    }

    private void line(String text) {
        out.println(text);
        out.flush();
    }
}
