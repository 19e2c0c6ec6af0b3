package io.parley.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Chat-like lines for compression tests and measurements: English words, 50 to 200 characters. */
public final class ChatText {

    private static final String[] WORDS = ("the a to and of is in it you that was for on are with as have be at "
            + "this but not they from we by or an will my one all would there their what so up out if about who "
            + "get which go me when make can like time just him know take people into year your good some could "
            + "them see other than then now look only come its over think also back after use two how our work "
            + "first well way even new want because any these give day most us meeting tomorrow deploy build "
            + "review lunch coffee release weekend thanks sounds great").split(" ");

    private ChatText() {
    }

    /** {@code count} lines, the same for the same seed. */
    public static List<String> lines(int count, long seed) {
        Random random = new Random(seed);
        List<String> lines = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int length = 50 + random.nextInt(151);
            StringBuilder line = new StringBuilder();
            while (line.length() < length) {
                line.append(line.isEmpty() ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
            }
            lines.add(line.substring(0, length));
        }
        return lines;
    }
}
