package io.parley.chat;

import io.parley.auth.DisplayNames;

import java.util.regex.Pattern;

/**
 * The rules a request's fields must meet; each broken rule is a {@link ChatException} with its code.
 * Public for {@link #name}, which the transport also applies to the names signed tokens carry.
 */
public final class ChatRules {

    static final int MAX_ID = 64;
    static final int MAX_HISTORY_LIMIT = 500;
    private static final Pattern ROOM = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private ChatRules() {
    }

    /** A display name, by the one set of rules for every name: {@link DisplayNames#check}. */
    public static String name(String raw) {
        try {
            return DisplayNames.check(raw);
        } catch (DisplayNames.UnsafeName e) {
            throw new ChatException(ErrorCode.INVALID_NAME, e.getMessage());
        }
    }

    static String room(String room) {
        if (room == null || !ROOM.matcher(room).matches()) {
            throw new ChatException(ErrorCode.INVALID_ROOM,
                    "room must be 1-64 characters from A-Z a-z 0-9 _ - .");
        }
        return room;
    }

    static String id(String id) {
        if (id == null || id.isEmpty() || id.codePointCount(0, id.length()) > MAX_ID || hasControl(id)) {
            throw new ChatException(ErrorCode.INVALID_ID,
                    "id must be 1-" + MAX_ID + " characters without control characters");
        }
        return id;
    }

    static String text(String text, int maxLength) {
        if (text == null || text.isEmpty()) {
            throw new ChatException(ErrorCode.EMPTY_MESSAGE, "text must not be empty");
        }
        if (text.length() > maxLength && text.codePointCount(0, text.length()) > maxLength) {
            throw new ChatException(ErrorCode.MESSAGE_TOO_LONG,
                    "text must be at most " + maxLength + " characters");
        }
        if (text.indexOf(0) >= 0) {
            // PostgreSQL's text cannot hold it: with --postgres-url it would fail the whole batch it is
            // in, and every sender in that batch would be told store_unavailable.
            throw new ChatException(ErrorCode.BAD_REQUEST, "text must not contain U+0000 (a \\u0000 escape)");
        }
        if (hasUnpairedSurrogate(text)) {
            throw new ChatException(ErrorCode.BAD_REQUEST,
                    "text must be valid Unicode: it has half of a surrogate pair (a \\uD800-\\uDFFF escape alone)");
        }
        // NBSP, zero-width spaces, Hangul fillers: a message of them alone shows as nothing.
        if (text.codePoints().allMatch(DisplayNames::showsNothing)) {
            throw new ChatException(ErrorCode.EMPTY_MESSAGE, "text must not be empty or only invisible characters");
        }
        return text;
    }

    /** A seq bound from the client: absent (-1) or a non-negative number. */
    static long seq(Long value, String field) {
        if (value == null) {
            return -1;
        }
        if (value < 0) {
            throw new ChatException(ErrorCode.INVALID_SINCE, field + " must not be negative");
        }
        return value;
    }

    /** Longest user id a moderation request may name: a token's subject is bounded by its size. */
    static final int MAX_USER_ID = 256;

    /** A user id a moderator names: required, 1 to {@value #MAX_USER_ID} characters, no control characters. */
    static String userId(String user) {
        if (user == null || user.isEmpty() || user.length() > MAX_USER_ID
                || user.chars().anyMatch(Character::isISOControl)) {
            throw new ChatException(ErrorCode.BAD_REQUEST, "user must be a user id of 1-" + MAX_USER_ID + " characters");
        }
        return user;
    }

    /** The seq of a message to act on: a positive number, required. */
    static long messageSeq(Long value, String field) {
        if (value == null) {
            throw new ChatException(ErrorCode.BAD_REQUEST, field + " is required");
        }
        if (value < 1) {
            throw new ChatException(ErrorCode.INVALID_SINCE, field + " must be a seq, 1 or more");
        }
        return value;
    }

    static int limit(Integer value, int byDefault) {
        if (value == null) {
            return byDefault;
        }
        if (value < 1 || value > MAX_HISTORY_LIMIT) {
            throw new ChatException(ErrorCode.INVALID_SINCE, "limit must be 1-" + MAX_HISTORY_LIMIT);
        }
        return value;
    }

    /**
     * Control and format characters, and unpaired surrogates: JSON can carry {@code "\\uD800"} alone,
     * which is no character at all, and the store could only write it as {@code ?}, so that what was
     * acknowledged and what is read back would differ.
     */
    private static boolean hasControl(String s) {
        return s.codePoints().anyMatch(c -> Character.getType(c) == Character.CONTROL
                || Character.getType(c) == Character.FORMAT && c != 0x200D
                || Character.getType(c) == Character.SURROGATE);
    }

    private static boolean hasUnpairedSurrogate(String s) {
        return s.codePoints().anyMatch(c -> Character.getType(c) == Character.SURROGATE);
    }
}
