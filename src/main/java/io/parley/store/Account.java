package io.parley.store;

import java.util.List;
import java.util.Objects;

/**
 * One registered user, as stored.
 *
 * @param id           stable user id, {@code account:<random>}: what messages and rate limits are keyed
 *                     on, and the token's {@code sub}; never reused after the account is removed
 * @param name         display name, as the user typed it (trimmed)
 * @param skeleton     the name's look-alike key as written ({@code DisplayNames.skeletons}, first);
 *                     unique among accounts
 * @param foldedSkeleton the look-alike key of its case fold (second); unique too, and what sign-in
 *                     looks a name up by
 * @param passwordHash Argon2id PHC string
 * @param roles        server roles, e.g. {@code admin}
 * @param created      ms since the epoch
 */
public record Account(String id, String name, String skeleton, String foldedSkeleton, String passwordHash,
                      List<String> roles, long created) {

    public Account {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(skeleton, "skeleton");
        Objects.requireNonNull(foldedSkeleton, "foldedSkeleton");
        Objects.requireNonNull(passwordHash, "passwordHash");
        roles = List.copyOf(roles);
    }

    /** Roles as one column: role names have no commas (the CLI checks them). */
    static String joinRoles(List<String> roles) {
        return String.join(",", roles);
    }

    static List<String> splitRoles(String column) {
        return column == null || column.isEmpty() ? List.of() : List.of(column.split(","));
    }
}
