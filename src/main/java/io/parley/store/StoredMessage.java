package io.parley.store;

/**
 * One chat message as it is on disk: the unit of history, ordering and fan-out.
 *
 * @param room room name
 * @param seq  position in the room, from 1, without gaps
 * @param id   the id the sending client chose, unique per room and user
 * @param user the sender's user id: a token's subject, or {@code guest:<name>}
 * @param from the sender's display name
 * @param text the message text
 * @param time server time when it was sequenced, ms since the Unix epoch
 */
public record StoredMessage(String room, long seq, String id, String user, String from, String text, long time) {
}
