package io.parley.chat;

/** A request that breaks a rule of the chat; the client is told {@link #code()} and the message. */
public final class ChatException extends RuntimeException {

    private final ErrorCode code;
    private final long retryAfterMillis;

    public ChatException(ErrorCode code, String message) {
        this(code, message, 0);
    }

    /** @param retryAfterMillis how long the client should wait before trying again; 0 if not said */
    public ChatException(ErrorCode code, String message, long retryAfterMillis) {
        super(message, null, false, false);
        this.code = code;
        this.retryAfterMillis = retryAfterMillis;
    }

    public ErrorCode code() {
        return code;
    }

    public long retryAfterMillis() {
        return retryAfterMillis;
    }
}
