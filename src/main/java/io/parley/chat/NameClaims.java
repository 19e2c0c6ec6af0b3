package io.parley.chat;

import io.parley.auth.DisplayNames;
import io.parley.auth.Identity;
import io.parley.auth.RegisteredNames;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The names a guest may not take a look-alike of ({@link DisplayNames#skeletons}):
 * <ul>
 *   <li>the names of registered accounts ({@link RegisteredNames}), whether or not they are online:
 *       those of this node at once, those added elsewhere (another node, {@code parley user add})
 *       within the accounts' refresh interval;</li>
 *   <li>the names of signed-in users (token users) this server has seen since it started: at a
 *       WebSocket {@code hello} or on an HTTP API send, the last {@value #MAX_SIGNED_IN} names kept;</li>
 *   <li>the names of a room's current WebSocket members, where the guest joins or sends.</li>
 * </ul>
 * A name looks alike when it shares a skeleton with one of another user id: two connections of the same
 * guest (same name, so same {@code guest:<name>} id) may share a room. Signed-in users are never refused
 * here: their names come from the token issuer, and a guest who came first must not lock them out.
 * What this cannot know: users who hold a token but have not used it since the server started, and
 * names a guest took before the signed-in user showed up (such a guest is refused from its next join or
 * send on). Clients mark guests by their {@code guest:} user id, which is what really tells them apart.
 *
 * <p>Threads: every event loop calls in. A room's names change under {@link ConcurrentHashMap#compute}
 * for that room, the signed-in names under this object's lock; both hold it for microseconds, with no
 * I/O inside.
 */
final class NameClaims {

    /** Far more than the users of any one server; a bound only so that a leak cannot grow it. */
    static final int MAX_SIGNED_IN = 10_000;

    /** Skeleton -> user id of the token user it came from, least recently seen first. */
    private final Map<String, String> signedIn = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > MAX_SIGNED_IN;
        }
    };
    /** Room -> skeleton -> user id -> how many of its subscriptions are in the room. */
    private final ConcurrentHashMap<String, Map<String, Map<String, Integer>>> rooms = new ConcurrentHashMap<>();

    private final RegisteredNames registered;

    NameClaims(RegisteredNames registered) {
        this.registered = registered;
        // Loads ICU's confusables data now, at server start, rather than in the first hello.
        DisplayNames.skeletons("parley");
    }

    /** A token user was seen under its name. */
    void signedIn(Identity user) {
        List<String> keys = DisplayNames.skeletons(user.name());
        synchronized (signedIn) {
            keys.forEach(k -> signedIn.put(k, user.user()));
        }
    }

    /** Refuses a guest whose name looks like a signed-in user's. Token users pass. */
    void checkGuest(Identity who) {
        if (who.guest()) {
            checkSignedIn(who, DisplayNames.skeletons(who.name()));
        }
    }

    /** Refuses a guest whose name looks like a signed-in user's or like another member's of the room. */
    void checkGuest(Identity who, String room) {
        if (!who.guest()) {
            return;
        }
        List<String> keys = DisplayNames.skeletons(who.name());
        checkSignedIn(who, keys);
        // The room's maps change only inside compute(); read them under the same lock.
        rooms.computeIfPresent(room, (r, current) -> {
            checkRoom(who, keys, room, current);
            return current;
        });
    }

    /**
     * {@code who} joins {@code room} under its name: a guest is refused if the name looks like another
     * member's or a signed-in user's. Every {@code enter} is matched by one {@link #leave}.
     */
    void enter(String room, Identity who) {
        List<String> keys = DisplayNames.skeletons(who.name());
        if (who.guest()) {
            checkSignedIn(who, keys);
        } else {
            signedIn(who);
        }
        rooms.compute(room, (r, current) -> {
            Map<String, Map<String, Integer>> names = current == null ? new HashMap<>() : current;
            checkRoom(who, keys, room, names);
            for (String k : keys) {
                names.computeIfAbsent(k, x -> new HashMap<>()).merge(who.user(), 1, Integer::sum);
            }
            return names;
        });
    }

    void leave(String room, Identity who) {
        List<String> keys = DisplayNames.skeletons(who.name());
        rooms.computeIfPresent(room, (r, names) -> {
            for (String k : keys) {
                names.computeIfPresent(k, (x, users) -> {
                    users.computeIfPresent(who.user(), (u, n) -> n == 1 ? null : n - 1);
                    return users.isEmpty() ? null : users;
                });
            }
            return names.isEmpty() ? null : names;
        });
    }

    private void checkSignedIn(Identity who, List<String> keys) {
        if (!who.guest()) {
            return;
        }
        if (registered.taken(keys)) {
            throw new ChatException(ErrorCode.INVALID_NAME, "the name '" + who.name()
                    + "' is, or looks like, the name of a registered user; sign in, or choose another");
        }
        synchronized (signedIn) {
            for (String k : keys) {
                if (signedIn.containsKey(k)) {
                    throw new ChatException(ErrorCode.INVALID_NAME, "the name '" + who.name()
                            + "' is, or looks like, the name of a signed-in user; choose another");
                }
            }
        }
    }

    private static void checkRoom(Identity who, List<String> keys, String room, Map<String, Map<String, Integer>> names) {
        if (!who.guest()) {
            return;
        }
        for (String k : keys) {
            Map<String, Integer> users = names.get(k);
            if (users != null && users.keySet().stream().anyMatch(u -> !u.equals(who.user()))) {
                throw new ChatException(ErrorCode.INVALID_NAME, "the name '" + who.name()
                        + "' is, or looks like, the name of someone else in room " + room + "; choose another");
            }
        }
    }
}
