package io.parley.store;

/**
 * One chat message as it is on disk: the unit of history, ordering and fan-out. A message a moderator
 * deleted stays in its place as a <em>tombstone</em>: same room, seq, id, sender and time, its text
 * gone (empty here, absent on the wire), and who deleted it and when.
 *
 * @param room      room name
 * @param seq       position in the room, from 1, without gaps
 * @param id        the id the sending client chose, unique per room and user
 * @param user      the sender's user id: a token's subject, or {@code guest:<name>}
 * @param from      the sender's display name
 * @param text      the message text; empty for a tombstone
 * @param time      server time when it was sequenced, ms since the Unix epoch
 * @param deletedBy the user id of the moderator who deleted it, or null while it is not deleted
 * @param deletedAt when it was deleted, ms since the Unix epoch; 0 while it is not deleted
 */
public record StoredMessage(String room, long seq, String id, String user, String from, String text, long time,
                            String deletedBy, long deletedAt) {

    /** A message as it is sent: not deleted. */
    public StoredMessage(String room, long seq, String id, String user, String from, String text, long time) {
        this(room, seq, id, user, from, text, time, null, 0);
    }

    public boolean deleted() {
        return deletedBy != null;
    }

    /** This message as a tombstone: the text gone, who deleted it and when kept. */
    public StoredMessage tombstone(String by, long at) {
        return new StoredMessage(room, seq, id, user, from, "", time, by, at);
    }
}
