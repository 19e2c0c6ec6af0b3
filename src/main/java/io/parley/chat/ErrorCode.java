package io.parley.chat;

/**
 * Every error a client can be told, with its stable wire code. The same codes are used on every
 * transport; docs/PROTOCOL.md lists them with their meaning.
 */
public enum ErrorCode {
    BAD_JSON("bad_json"),
    BAD_REQUEST("bad_request"),
    UNKNOWN_TYPE("unknown_type"),
    HELLO_REQUIRED("hello_required"),
    ALREADY_GREETED("already_greeted"),
    INVALID_NAME("invalid_name"),
    INVALID_ROOM("invalid_room"),
    INVALID_ID("invalid_id"),
    INVALID_SINCE("invalid_since"),
    INVALID_CURSOR("invalid_cursor"),
    ALREADY_MEMBER("already_member"),
    NOT_MEMBER("not_member"),
    TOO_MANY_ROOMS("too_many_rooms"),
    EMPTY_MESSAGE("empty_message"),
    MESSAGE_TOO_LONG("message_too_long"),
    RATE_LIMITED("rate_limited"),
    ID_REUSED("id_reused"),
    UNAUTHORIZED("unauthorized"),
    BAD_CREDENTIALS("bad_credentials"),
    SIGNUP_CLOSED("signup_closed"),
    NAME_TAKEN("name_taken"),
    WEAK_PASSWORD("weak_password"),
    FORBIDDEN("forbidden"),
    NOT_FOUND("not_found"),
    NO_SUCH_MESSAGE("no_such_message"),
    BANNED("banned"),
    TIMED_OUT("timed_out"),
    SLOW_MODE("slow_mode"),
    ROOM_EXISTS("room_exists"),
    METHOD_NOT_ALLOWED("method_not_allowed"),
    TOO_LARGE("too_large"),
    MISDIRECTED("misdirected"),
    OVERLOADED("overloaded"),
    STORE_UNAVAILABLE("store_unavailable"),
    SHUTTING_DOWN("shutting_down"),
    INTERNAL_ERROR("internal_error");

    private final String wire;

    ErrorCode(String wire) {
        this.wire = wire;
    }

    /** The code as it travels, e.g. {@code not_member}. */
    public String wire() {
        return wire;
    }
}
