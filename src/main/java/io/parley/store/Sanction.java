package io.parley.store;

/**
 * A moderator's ruling on one user in one room, as the database keeps it: a ban (until it is lifted)
 * or a timeout (until a time).
 *
 * @param room  the room
 * @param user  the user id it applies to ({@code account:...}, {@code guest:<name>}, a token's subject)
 * @param kind  {@link #BAN} or {@link #TIMEOUT}
 * @param until a timeout's end, ms since the epoch; 0 for a ban
 * @param by    the moderator's user id
 * @param at    when it was made, ms since the epoch
 */
public record Sanction(String room, String user, String kind, long until, String by, long at) {

    public static final String BAN = "ban";
    public static final String TIMEOUT = "timeout";

    public Sanction {
        if (!kind.equals(BAN) && !kind.equals(TIMEOUT)) {
            throw new IllegalArgumentException("a sanction is a ban or a timeout, not " + kind);
        }
    }

    /** Whether it still holds at {@code now}: a ban until lifted, a timeout until its end. */
    public boolean holdsAt(long now) {
        return kind.equals(BAN) || until > now;
    }
}
