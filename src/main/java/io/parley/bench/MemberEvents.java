package io.parley.bench;

/**
 * What a transport reports about its members to the workload. Called from I/O threads, concurrently;
 * implementations must be thread-safe and cheap, because they run once per delivery.
 */
public interface MemberEvents {

    /**
     * A live {@code message} reached a member. {@code carrier} holds the message's text verbatim,
     * either alone or inside the raw frame: benchmark texts need no JSON escaping, so a transport can
     * pass the frame as it came and skip parsing it. Returns whether the message was one of this run's.
     */
    boolean messageReceived(String carrier);

    /**
     * The same, for a transport that holds the frame as bytes ({@code carrier[0, length)}, UTF-8 as
     * sent): no String per delivery. The array is the transport's and valid only during the call.
     */
    boolean messageReceived(byte[] carrier, int length);

    /**
     * A member received seq {@code seq} of the room where it expected {@code expected}: messages were
     * missed (seq above) or came out of order (seq below). Only transports that track seqs call it.
     */
    default void sequenceBroken(String member, long expected, long seq) {
    }

    /** A {@code presence} frame reached a member. Only the lean client reports them. */
    default void presenceReceived() {
    }

    /** The server confirmed one of this member's sends. */
    void acked();

    /** The server refused one of this member's sends with this error code. */
    void rejected(String code);

    /** A joined member's connection ended without the benchmark asking it to. */
    void dropped(String member, String why);

    /** Events of members whose traffic nobody counts (a warm-up): every one is ignored. */
    MemberEvents IGNORED = new Ignoring();

    /**
     * Ignores every event: what a run that counts none of the traffic (a warm-up) needs, and the base of
     * one that counts only a few kinds (joins timed, drops reported), which overrides just those.
     */
    class Ignoring implements MemberEvents {
        @Override
        public boolean messageReceived(String carrier) {
            return false;
        }

        @Override
        public boolean messageReceived(byte[] carrier, int length) {
            return false;
        }

        @Override
        public void acked() {
        }

        @Override
        public void rejected(String code) {
        }

        @Override
        public void dropped(String member, String why) {
        }
    }
}
