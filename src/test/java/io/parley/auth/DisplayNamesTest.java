package io.parley.auth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Collections;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The display-name rules (docs/PROTOCOL.md, "Limits on fields" and "Names"). */
class DisplayNamesTest {

    @ParameterizedTest
    @ValueSource(strings = {
            "Alice\u00A0",          // NBSP: strip() keeps it, and the name shows as "Alice"
            "Al\u00A0ice",
            "\u3164",               // Hangul filler: a name that shows as nothing
            "\u115F", "\u1160", "\uFFA0", "Alice\u3164",
            "Al\u200Dice",          // zero-width joiner outside an emoji sequence
            "Al\u200Cice", "Al\u200Bice", "Al\u2060ice", "\uFEFFAlice",
            "abc\u202Egnp",         // right-to-left override
            "a\u202Ab", "a\u202Bb", "a\u202Cb", "a\u202Db",
            "a\u2066b", "a\u2067b", "a\u2068b", "a\u2069b", "a\u200Fb", "a\u061Cb",
            "Ali\u00ADce",          // soft hyphen
            "A\uFE00lice",          // variation selector
            "A\u034Flice",          // combining grapheme joiner
            "Bob  Smith",           // two spaces
            "Bob\u2003Smith", "Bob\u3000Smith", "Bob\u2028Smith",
            "\u2800",               // blank Braille cell
            "\uE000Alice",          // private use
            "\u0301Alice",          // starts with a combining mark
            "Al\u0301\u0301\u0301\u0301\u0301ice",
            "bell\u0007", "tab\tname",
            "   ", ""})
    void refusesInvisibleBlankAndDirectionChangingCharacters(String name) {
        assertThatThrownBy(() -> DisplayNames.check(name)).isInstanceOf(DisplayNames.UnsafeName.class);
    }

    @Test
    void refusesEveryBidirectionalControl() {
        IntStream.concat(IntStream.rangeClosed(0x202A, 0x202E), IntStream.rangeClosed(0x2066, 0x2069)).forEach(c ->
                assertThatThrownBy(() -> DisplayNames.check("x" + Character.toString(c) + "y"))
                        .as("U+%04X", c).isInstanceOf(DisplayNames.UnsafeName.class)
                        .hasMessageContaining(String.format("U+%04X", c)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"Alice", "Ada Lovelace", "José", "Δημήτρης", "Саша", "李小龍", "محمد", "R2-D2",
            "\uD83D\uDC69\u200D\uD83D\uDCBB dev",   // 👩‍💻: ZWJ between two pictographs
            "\u2764\uFE0F fan",                     // ❤️: emoji presentation selector after an emoji
            "Nguye\u0302\u0303n"})
    void acceptsNamesThatShowEveryCharacter(String name) {
        assertThat(DisplayNames.check(name)).isEqualTo(name);
    }

    @Test
    void stripsWhiteSpaceAroundAndCountsCodePoints() {
        assertThat(DisplayNames.check("  eve  ")).isEqualTo("eve");
        String emoji32 = String.join("", Collections.nCopies(32, "\uD83D\uDE00"));
        assertThat(DisplayNames.check(emoji32)).isEqualTo(emoji32);
        assertThatThrownBy(() -> DisplayNames.check(emoji32 + "x")).isInstanceOf(DisplayNames.UnsafeName.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "\u0410lice",   // Cyrillic А
            "\uFF21lice",   // fullwidth Ａ
            "\uFF21\uFF4C\uFF49\uFF43\uFF45",
            "AIice",        // capital I for l
            "alice", "ALICE",
            "\u0391lice"})  // Greek Α
    void lookAlikesShareASkeleton(String lookAlike) {
        assertThat(DisplayNames.skeletons(lookAlike)).containsAnyElementsOf(DisplayNames.skeletons("Alice"));
    }

    @Test
    void differentNamesDoNotShareASkeleton() {
        assertThat(DisplayNames.skeletons("Alice")).doesNotContainAnyElementsOf(DisplayNames.skeletons("Alicia"));
        assertThat(DisplayNames.skeletons("Bob")).doesNotContainAnyElementsOf(DisplayNames.skeletons("Rob"));
    }
}
