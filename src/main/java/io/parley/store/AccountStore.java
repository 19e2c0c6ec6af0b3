package io.parley.store;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Accounts, their sign-in sessions, and the server's settings, kept in the history database: the
 * SQLite file {@code parley.db} in the data directory, or the PostgreSQL database of
 * {@code --postgres-url}, so every node and the {@code parley user} command see the same accounts.
 *
 * <p><b>Tables.</b> {@code accounts(id, name, skeleton, folded_skeleton, password_hash, roles, created)}:
 * both look-alike keys are UNIQUE, so two accounts whose names look alike cannot exist, whichever node
 * or process adds them. {@code sessions(id_hash, account, created, expires, revoked)}: a session is
 * known by the SHA-256 of its cookie value, so a copy of the database does not sign anyone in.
 * {@code settings(name, value)}: the generated token secret. The rooms' tables are {@link #rooms()}'s.
 *
 * <p><b>Threads.</b> Every method blocks on the database: call from a worker thread, never an event
 * loop. Implementations are safe to call from several threads at once.
 *
 * <p><b>Errors.</b> A database failure is a {@link StoreException}; a name that looks like an existing
 * account's is {@link NameTaken}.
 *
 * <p>Implementations: {@link SqliteAccountStore} and {@link PostgresAccountStore}; both pass
 * {@code AccountStoreContract}.
 */
public interface AccountStore extends AutoCloseable {

    /** Accounts in {@code parley.db} in {@code dataDir}, created if needed; a write waits up to {@code busyTimeout}. */
    static AccountStore openSqlite(Path dataDir, Duration busyTimeout) {
        return SqliteAccountStore.open(dataDir, busyTimeout);
    }

    /** Accounts in this PostgreSQL database. */
    static AccountStore openPostgres(PostgresUrl url) {
        return PostgresAccountStore.open(url);
    }

    /**
     * Stores a new account.
     *
     * @throws NameTaken when an account has the same skeleton or folded skeleton
     */
    void add(Account account);

    /** The account whose folded skeleton is {@code foldedSkeleton}, or null. */
    Account findByKey(String foldedSkeleton);

    /** All accounts, oldest first. */
    List<Account> list();

    /** Both look-alike keys of every account (2 per account), for the guests' name check. */
    List<String> keys();

    /** @return whether the account exists */
    boolean setPassword(String id, String passwordHash);

    /** @return whether the account exists */
    boolean setRoles(String id, List<String> roles);

    /** Deletes the account and revokes its sessions. @return whether it existed */
    boolean remove(String id);

    /** Stores a new session, known by the hash of its secret, for {@code account} until {@code expires} (ms). */
    void addSession(String idHash, String account, long created, long expires);

    /** The account of a session that exists, is not revoked and has not expired at {@code now}; or null. */
    Account findSession(String idHash, long now);

    /** Revokes one session; nothing if there is none. */
    void revokeSession(String idHash, long now);

    /** Revokes every session of an account (a password change). @return how many */
    int revokeSessions(String account, long now);

    /** Deletes sessions that expired before {@code now}. @return how many */
    int pruneSessions(long now);

    /**
     * The setting {@code name}: stores {@code value} if it has none yet, and returns the one stored (the
     * first writer's, when two nodes start at once).
     */
    String settingOrInit(String name, String value);

    /** Records a ban or timeout, replacing the user's earlier one of the same kind in that room. */
    void putSanction(Sanction sanction);

    /** Lifts the user's ban or timeout in the room; false if there was none. */
    boolean removeSanction(String room, String user, String kind);

    /** Every ban, and every timeout that has not ended at {@code now}: what the servers enforce. */
    List<Sanction> sanctions(long now);

    /** Sets a room's slow mode: at most one message per user every {@code seconds} (0: off). */
    void putSlowMode(String room, int seconds, String by, long at);

    /** Every room's slow mode that is on: room to seconds. */
    Map<String, Integer> slowModes();

    /** Appends a moderation action to the audit log (its id is the log's next). */
    void audit(AuditEntry entry);

    /** A room's audit log, newest first: up to {@code limit} entries with ids below {@code before}. */
    List<AuditEntry> audit(String room, long before, int limit);
    /** The rooms created explicitly and their roles, in the same database and on the same connections. */
    RoomStore rooms();

    @Override
    void close();

    /** An account's name looks like an existing account's. */
    final class NameTaken extends RuntimeException {
        public NameTaken(String name) {
            super("the name '" + name + "' is, or looks like, the name of an existing account", null, false, false);
        }
    }
}
