package io.parley.client;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The client → server messages of {@code docs/PROTOCOL.md}, as JSON text ready for
 * {@link ParleyConnection#send}. Jackson writes them, so names and texts are always escaped
 * correctly. Stateless and safe to call from any thread.
 */
public final class Requests {

    private Requests() {
    }

    public static String hello(String name) {
        return request("hello").put("name", name).toString();
    }

    /** A join that asks for the room's latest messages. */
    public static String join(String room) {
        return request("join").put("room", room).toString();
    }

    /** A join that asks for every message after {@code since}: the catch-up after a reconnect. */
    public static String join(String room, long since) {
        return request("join").put("room", room).put("since", since).toString();
    }

    public static String send(String room, String id, String text) {
        return request("send").put("room", room).put("id", id).put("text", text).toString();
    }

    /** A fresh token for the connection's user, before the one it opened with expires. */
    public static String refresh(String token) {
        return request("refresh").put("token", token).toString();
    }

    /** Up to {@code limit} stored messages after {@code since}, oldest first. */
    public static String historySince(String room, long since, int limit) {
        return request("history").put("room", room).put("since", since).put("limit", limit).toString();
    }

    private static ObjectNode request(String type) {
        return JsonNodeFactory.instance.objectNode().put("type", type);
    }
}
