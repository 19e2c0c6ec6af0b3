package io.parley.chat;

/** A request that breaks a rule of the chat; the client is told {@link #code()} and the message. */
public final class ChatException extends RuntimeException {

    private final ErrorCode code;

    public ChatException(ErrorCode code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }
}
