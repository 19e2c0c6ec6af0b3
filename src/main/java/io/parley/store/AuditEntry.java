package io.parley.store;

/**
 * One moderation action, as the audit log keeps it.
 *
 * @param id     its number in the log, growing; 0 before it is stored
 * @param room   the room acted on
 * @param at     when, ms since the epoch
 * @param by     the moderator's user id
 * @param action what: {@code delete}, {@code clear}, {@code ban}, {@code unban}, {@code timeout}, {@code slow}
 * @param target whom or what: a user id, or the seqs deleted ({@code 7}, {@code 1-40})
 * @param detail more of it, or empty: a timeout's or slow mode's seconds, how many messages a clear deleted
 */
public record AuditEntry(long id, String room, long at, String by, String action, String target, String detail) {
}
