package io.parley.chat;

/** A request that breaks a rule of the chat; the client is told {@link #code()} and the message. */
public final class ChatException extends RuntimeException {

    private final ErrorCode code;
    private final long retryAfterMillis;
    private final long until;

    public ChatException(ErrorCode code, String message) {
        this(code, message, 0);
    }

    /** @param retryAfterMillis how long the client should wait before trying again; 0 if not said */
    public ChatException(ErrorCode code, String message, long retryAfterMillis) {
        this(code, message, retryAfterMillis, 0);
    }

    /** @param until when what refused the request ends (a timeout), ms since the epoch; 0 if not said */
    public ChatException(ErrorCode code, String message, long retryAfterMillis, long until) {
        super(message, null, false, false);
        this.code = code;
        this.retryAfterMillis = retryAfterMillis;
        this.until = until;
    }

    public long until() {
        return until;
    }

    public ErrorCode code() {
        return code;
    }

    public long retryAfterMillis() {
        return retryAfterMillis;
    }
}
