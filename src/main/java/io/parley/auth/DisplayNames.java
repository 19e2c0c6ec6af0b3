package io.parley.auth;

import com.ibm.icu.lang.UCharacter;
import com.ibm.icu.lang.UProperty;
import com.ibm.icu.text.SpoofChecker;

import java.util.List;

/**
 * What makes a display name safe to show beside messages, and when two names look alike. The one
 * source of these rules: guest names (WebSocket {@code hello}, the HTTP API's {@code X-Parley-Name})
 * and token names are all checked here.
 *
 * <p>A safe name is 1 to {@value #MAX_LENGTH} code points once white space around it is stripped, and
 * shows every character it has: no control or format characters (so no bidirectional overrides or
 * isolates, U+202A–U+202E and U+2066–U+2069, which would reorder what follows), no zero-width or other
 * default-ignorable characters (ZWSP, word joiner, soft hyphen, variation selectors, tag characters, the
 * Hangul fillers U+115F, U+1160, U+3164, U+FFA0), no white space but single ASCII spaces between words
 * (NBSP and the wide spaces are refused), no private-use or unassigned code points, no blank Braille
 * cell, no combining mark at the start and no more than {@value #MAX_MARKS} marks in a row. Emoji keep
 * working: a zero-width joiner between two pictographs and U+FE0F after an emoji are allowed.
 *
 * <p>Look-alikes: {@link #skeletons} gives Unicode's confusable skeletons (UTS #39, through ICU4J's
 * {@link SpoofChecker}) of a name as written and of its case fold, so "Alice", "Аlice" (Cyrillic А),
 * "Ａlice" (fullwidth), "AIice" (capital I) and "alice" share one. Two names look alike when they share a
 * skeleton. Which names a guest may not look like is decided by the chat ({@code NameClaims}).
 *
 * <p>Threads: stateless; ICU's spoof checker is safe to share. A skeleton costs about a microsecond;
 * ICU reads its confusables data (some tens of milliseconds) when this class is first used.
 */
public final class DisplayNames {

    public static final int MAX_LENGTH = 32;
    /** Stacked combining marks overflow into the lines above and below ("Zalgo"); real scripts need a few. */
    static final int MAX_MARKS = 4;
    private static final int ZWJ = 0x200D;
    private static final int EMOJI_PRESENTATION = 0xFE0F;
    private static final int BRAILLE_BLANK = 0x2800;

    private static final SpoofChecker SPOOF = new SpoofChecker.Builder().build();

    private DisplayNames() {
    }

    /**
     * The name to show: {@code raw} without the white space around it.
     *
     * @throws UnsafeName with a reason a client may be shown
     */
    public static String check(String raw) {
        if (raw == null) {
            throw new UnsafeName("a name is required");
        }
        String name = raw.strip();
        int length = name.codePointCount(0, name.length());
        if (length == 0 || length > MAX_LENGTH) {
            throw new UnsafeName("a name must be 1-" + MAX_LENGTH + " characters");
        }
        int[] cps = name.codePoints().toArray();
        int marks = 0;
        for (int i = 0; i < cps.length; i++) {
            int c = cps[i];
            if (c == ' ') {
                if (cps[i - 1] == ' ') {
                    throw new UnsafeName("a name may have only one space between words");
                }
            } else if (c == ZWJ) {
                if (!joinsEmoji(cps, i)) {
                    throw refused(c);
                }
            } else if (c == EMOJI_PRESENTATION) {
                if (i == 0 || !Character.isEmoji(cps[i - 1])) {
                    throw refused(c);
                }
            } else if (hidden(c)) {
                throw refused(c);
            }
            marks = isMark(c) ? marks + 1 : 0;
            if (marks > 0 && i == 0) {
                throw new UnsafeName("a name may not start with a combining mark");
            }
            if (marks > MAX_MARKS) {
                throw new UnsafeName("a name may have at most " + MAX_MARKS + " combining marks in a row");
            }
        }
        return name;
    }

    /**
     * Keys under which look-alike names meet: the UTS #39 skeleton of the name, and that of its case
     * fold. Two names look alike when they share a key.
     */
    public static List<String> skeletons(String name) {
        return List.of("=" + SPOOF.getSkeleton(name), "~" + SPOOF.getSkeleton(UCharacter.foldCase(name, true)));
    }

    /**
     * Whether a character shows nothing by itself: white space of any kind, control and format
     * characters, default-ignorables (zero-width characters, fillers, variation selectors), the blank
     * Braille cell. A message made of these alone is empty.
     */
    public static boolean showsNothing(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || hidden(c);
    }

    private static boolean hidden(int c) {
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                 Character.UNASSIGNED, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
                 Character.SPACE_SEPARATOR -> true;
            default -> c == BRAILLE_BLANK || UCharacter.hasBinaryProperty(c, UProperty.DEFAULT_IGNORABLE_CODE_POINT);
        };
    }

    private static boolean isMark(int c) {
        int type = Character.getType(c);
        return type == Character.NON_SPACING_MARK || type == Character.ENCLOSING_MARK
                || type == Character.COMBINING_SPACING_MARK;
    }

    /** A ZWJ inside an emoji sequence (👩‍💻): a pictograph before it (past U+FE0F and skin tones) and after. */
    private static boolean joinsEmoji(int[] cps, int at) {
        int before = at - 1;
        while (before >= 0 && (cps[before] == EMOJI_PRESENTATION || Character.isEmojiModifier(cps[before]))) {
            before--;
        }
        return before >= 0 && at + 1 < cps.length
                && Character.isExtendedPictographic(cps[before]) && Character.isExtendedPictographic(cps[at + 1]);
    }

    private static UnsafeName refused(int c) {
        return new UnsafeName(String.format("a name may not contain U+%04X: invisible, blank or "
                + "direction-changing characters could make it pass for another", c));
    }

    /** A name that is not safe to show; the message says why. */
    public static final class UnsafeName extends RuntimeException {
        public UnsafeName(String reason) {
            super(reason, null, false, false);
        }
    }
}
