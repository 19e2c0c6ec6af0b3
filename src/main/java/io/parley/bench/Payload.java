package io.parley.bench;

import java.nio.charset.StandardCharsets;

/**
 * The text of a benchmark message: a marker naming the run, the send time, and padding up to the
 * requested size, e.g. {@code ~r3f9a1c~1234567890~xxxxxxxx...}. All ASCII and free of characters JSON
 * escapes, so a message's size in bytes is its length and the text appears verbatim in the frame.
 *
 * <p>The send time is {@link System#nanoTime()} relative to the run's origin; only this process
 * reads it back, on the same clock, so no clock synchronisation is involved. The run marker keeps
 * messages from anybody else in the room, or from an earlier run, out of the measurement.
 *
 * <p>Immutable; safe from any thread.
 */
final class Payload {

    /** Marker, 19 digits of time and a terminator fit, with a little room for padding. */
    static final int MIN_SIZE = 32;

    private final String marker;
    private final byte[] markerBytes;
    private final int size;
    private final String padding;

    Payload(String runId, int size) {
        if (size < MIN_SIZE) {
            throw new IllegalArgumentException("payload size must be at least " + MIN_SIZE + " bytes");
        }
        this.marker = "~" + runId + "~";
        this.markerBytes = marker.getBytes(StandardCharsets.US_ASCII);
        this.size = size;
        this.padding = "x".repeat(size);
    }

    /** A text of exactly {@code size} bytes carrying {@code sentNanos}. */
    String text(long sentNanos) {
        StringBuilder text = new StringBuilder(size).append(marker).append(sentNanos).append('~');
        return text.append(padding, 0, size - text.length()).toString();
    }

    /**
     * The send time carried by a text of this run found anywhere in {@code carrier}, or -1 when there
     * is none. A plain scan, because it runs once per delivery and a JSON parse would cost more than
     * the rest of the client's work.
     */
    long sentNanos(String carrier) {
        int at = carrier.indexOf(marker);
        if (at < 0) {
            return -1;
        }
        long value = 0;
        int digits = 0;
        for (int i = at + marker.length(); i < carrier.length() && digits < 19; i++) {
            char c = carrier.charAt(i);
            if (c < '0' || c > '9') {
                break;
            }
            value = value * 10 + (c - '0');
            digits++;
        }
        return digits == 0 ? -1 : value;
    }

    /**
     * The same for a carrier held as bytes, {@code carrier[0, length)}: the lean client's frames, read
     * without making a String of them. The marker is ASCII, so its bytes are its characters.
     */
    long sentNanos(byte[] carrier, int length) {
        int at = indexOf(carrier, length, markerBytes);
        if (at < 0) {
            return -1;
        }
        long value = 0;
        int digits = 0;
        for (int i = at + markerBytes.length; i < length && digits < 19; i++) {
            byte c = carrier[i];
            if (c < '0' || c > '9') {
                break;
            }
            value = value * 10 + (c - '0');
            digits++;
        }
        return digits == 0 ? -1 : value;
    }

    /**
     * Where {@code needle} first occurs in {@code text[0, length)}, or -1. A plain loop: needles are a
     * few bytes, and most candidates fail on their first or second byte.
     */
    static int indexOf(byte[] text, int length, byte[] needle) {
        for (int i = 0; i <= length - needle.length; i++) {
            int j = 0;
            while (j < needle.length && text[i + j] == needle[j]) {
                j++;
            }
            if (j == needle.length) {
                return i;
            }
        }
        return -1;
    }
}
