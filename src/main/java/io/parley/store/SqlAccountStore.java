package io.parley.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The SQL of {@link AccountStore}, one text for both databases: the tables use {@code text} and
 * {@code bigint}, which SQLite takes as TEXT and INTEGER, and {@code INSERT ... ON CONFLICT DO NOTHING},
 * which both understand. A subclass says how to borrow a connection, what to do before creating the
 * tables, and which error is a unique violation.
 *
 * <p>Threads: as safe as the subclass's {@link #borrow}; a connection is used by one call at a time.
 */
abstract sealed class SqlAccountStore implements AccountStore permits SqliteAccountStore, PostgresAccountStore {

    private static final String COLUMNS = "id, name, skeleton, folded_skeleton, password_hash, roles, created";
    private static final String SELECT = "SELECT " + COLUMNS + " FROM accounts ";

    private final RoomStore rooms = new SqlRoomStore(this);

    @Override
    public RoomStore rooms() {
        return rooms;
    }

    /** One step against the database on a borrowed connection. */
    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** A connection for one call; {@link #release} gives it back. */
    abstract Connection borrow() throws SQLException;

    abstract void release(Connection c);

    /** Whether {@code e} is a UNIQUE constraint refusing a row. */
    abstract boolean uniqueViolation(SQLException e);

    /** The column definition of a key the database numbers itself, growing: the two spell it differently. */
    abstract String generatedKey();

    /** Run inside the migration's transaction, before the tables are created (PostgreSQL: a lock). */
    abstract void beforeMigrate(Statement s) throws SQLException;

    final <T> T call(String what, Work<T> work) {
        Connection c;
        try {
            c = borrow();
        } catch (SQLException e) {
            throw new StoreException(what, e);
        }
        try {
            return work.run(c);
        } catch (SQLException e) {
            throw new StoreException(what, e);
        } finally {
            release(c);
        }
    }

    /** {@code work} in one transaction: all of it, or (throwing) none. */
    final <T> T transaction(String what, Work<T> work) {
        return call(what, c -> {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        });
    }

    /** Creates the tables that do not exist yet; nothing else changes, so it is safe on every start. */
    final void migrate() {
        transaction("creating the accounts tables", c -> {
            try (Statement s = c.createStatement()) {
                beforeMigrate(s);
                s.execute("""
                        CREATE TABLE IF NOT EXISTS accounts (
                            id              text   PRIMARY KEY,
                            name            text   NOT NULL,
                            skeleton        text   NOT NULL UNIQUE,
                            folded_skeleton text   NOT NULL UNIQUE,
                            password_hash   text   NOT NULL,
                            roles           text   NOT NULL,
                            created         bigint NOT NULL
                        )""");
                s.execute("""
                        CREATE TABLE IF NOT EXISTS sessions (
                            id_hash text   PRIMARY KEY,
                            account text   NOT NULL,
                            created bigint NOT NULL,
                            expires bigint NOT NULL,
                            revoked bigint
                        )""");
                s.execute("CREATE INDEX IF NOT EXISTS sessions_by_account ON sessions (account)");
                s.execute("CREATE INDEX IF NOT EXISTS sessions_by_expiry ON sessions (expires)");
                s.execute("CREATE TABLE IF NOT EXISTS settings (name text PRIMARY KEY, value text NOT NULL)");
                // Moderators' bans and timeouts, per room and user: small, and read whole by every node.
                s.execute("""
                        CREATE TABLE IF NOT EXISTS sanctions (
                            room    text   NOT NULL,
                            user_id text   NOT NULL,
                            kind    text   NOT NULL,
                            until   bigint NOT NULL,
                            by_user text   NOT NULL,
                            at      bigint NOT NULL,
                            PRIMARY KEY (room, user_id, kind)
                        )""");
                s.execute("CREATE TABLE IF NOT EXISTS audit (id " + generatedKey() + ", room text NOT NULL, "
                        + "at bigint NOT NULL, by_user text NOT NULL, action text NOT NULL, target text NOT NULL, "
                        + "detail text NOT NULL)");
                s.execute("CREATE INDEX IF NOT EXISTS audit_by_room ON audit (room, id)");
                s.execute("""
                        CREATE TABLE IF NOT EXISTS slow_modes (
                            room    text   PRIMARY KEY,
                            seconds bigint NOT NULL,
                            by_user text   NOT NULL,
                            at      bigint NOT NULL
                        )""");
                for (String table : SqlRoomStore.TABLES) {
                    s.execute(table);
                }
            }
            return null;
        });
    }

    @Override
    public void add(Account a) {
        try {
            call("adding account " + a.name(), c -> update(c, "INSERT INTO accounts(" + COLUMNS
                    + ") VALUES (?, ?, ?, ?, ?, ?, ?)", a.id(), a.name(), a.skeleton(), a.foldedSkeleton(),
                    a.passwordHash(), Account.joinRoles(a.roles()), a.created()));
        } catch (StoreException e) {
            if (e.getCause() instanceof SQLException sql && uniqueViolation(sql)) {
                throw new NameTaken(a.name());
            }
            throw e;
        }
    }

    @Override
    public Account findByKey(String foldedSkeleton) {
        List<Account> found = call("looking up an account",
                c -> accounts(c, SELECT + "WHERE folded_skeleton = ?", foldedSkeleton));
        return found.isEmpty() ? null : found.getFirst();
    }

    @Override
    public List<Account> list() {
        return call("listing accounts", c -> accounts(c, SELECT + "ORDER BY created, id"));
    }

    @Override
    public List<String> keys() {
        return call("reading account names", c -> {
            List<String> keys = new ArrayList<>();
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT skeleton, folded_skeleton FROM accounts")) {
                while (rs.next()) {
                    keys.add(rs.getString(1));
                    keys.add(rs.getString(2));
                }
            }
            return keys;
        });
    }

    @Override
    public boolean setPassword(String id, String passwordHash) {
        return call("changing a password",
                c -> update(c, "UPDATE accounts SET password_hash = ? WHERE id = ?", passwordHash, id)) > 0;
    }

    @Override
    public boolean setRoles(String id, List<String> roles) {
        return call("changing roles",
                c -> update(c, "UPDATE accounts SET roles = ? WHERE id = ?", Account.joinRoles(roles), id)) > 0;
    }

    @Override
    public boolean remove(String id) {
        long now = System.currentTimeMillis();
        return transaction("removing an account", c -> {
            update(c, "UPDATE sessions SET revoked = ? WHERE account = ? AND revoked IS NULL", now, id);
            return update(c, "DELETE FROM accounts WHERE id = ?", id) > 0;
        });
    }

    @Override
    public void addSession(String idHash, String account, long created, long expires) {
        call("storing a session", c -> update(c,
                "INSERT INTO sessions(id_hash, account, created, expires) VALUES (?, ?, ?, ?)",
                idHash, account, created, expires));
    }

    @Override
    public Account findSession(String idHash, long now) {
        List<Account> found = call("looking up a session", c -> accounts(c, "SELECT a.id, a.name, a.skeleton, "
                + "a.folded_skeleton, a.password_hash, a.roles, a.created FROM sessions s JOIN accounts a "
                + "ON a.id = s.account WHERE s.id_hash = ? AND s.revoked IS NULL AND s.expires > ?", idHash, now));
        return found.isEmpty() ? null : found.getFirst();
    }

    @Override
    public void revokeSession(String idHash, long now) {
        call("revoking a session", c -> update(c,
                "UPDATE sessions SET revoked = ? WHERE id_hash = ? AND revoked IS NULL", now, idHash));
    }

    @Override
    public int revokeSessions(String account, long now) {
        return call("revoking sessions", c -> update(c,
                "UPDATE sessions SET revoked = ? WHERE account = ? AND revoked IS NULL", now, account));
    }

    @Override
    public int pruneSessions(long now) {
        return call("deleting expired sessions", c -> update(c, "DELETE FROM sessions WHERE expires <= ?", now));
    }

    @Override
    public String settingOrInit(String name, String value) {
        return transaction("reading setting " + name, c -> {
            update(c, "INSERT INTO settings(name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, value);
            try (PreparedStatement ps = c.prepareStatement("SELECT value FROM settings WHERE name = ?")) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new SQLException("setting " + name + " vanished right after it was stored");
                    }
                    return rs.getString(1);
                }
            }
        });
    }

    @Override
    public void putSanction(Sanction x) {
        call("recording a " + x.kind() + " in room " + x.room(), c -> update(c,
                "INSERT INTO sanctions(room, user_id, kind, until, by_user, at) VALUES (?, ?, ?, ?, ?, ?) "
                        + "ON CONFLICT (room, user_id, kind) DO UPDATE SET until = excluded.until, "
                        + "by_user = excluded.by_user, at = excluded.at",
                x.room(), x.user(), x.kind(), x.until(), x.by(), x.at()));
    }

    @Override
    public boolean removeSanction(String room, String user, String kind) {
        return call("lifting a " + kind + " in room " + room, c -> update(c,
                "DELETE FROM sanctions WHERE room = ? AND user_id = ? AND kind = ?", room, user, kind)) > 0;
    }

    @Override
    public List<Sanction> sanctions(long now) {
        return call("reading bans and timeouts", c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT room, user_id, kind, until, by_user, at "
                    + "FROM sanctions WHERE kind = 'ban' OR until > ? ORDER BY room, user_id, kind")) {
                ps.setLong(1, now);
                List<Sanction> rows = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        rows.add(new Sanction(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4),
                                rs.getString(5), rs.getLong(6)));
                    }
                }
                return rows;
            }
        });
    }

    @Override
    public void putSlowMode(String room, int seconds, String by, long at) {
        call("setting the slow mode of room " + room, c -> seconds == 0
                ? update(c, "DELETE FROM slow_modes WHERE room = ?", room)
                : update(c, "INSERT INTO slow_modes(room, seconds, by_user, at) VALUES (?, ?, ?, ?) "
                        + "ON CONFLICT (room) DO UPDATE SET seconds = excluded.seconds, by_user = excluded.by_user, "
                        + "at = excluded.at", room, seconds, by, at));
    }

    @Override
    public Map<String, Integer> slowModes() {
        return call("reading slow modes", c -> {
            Map<String, Integer> modes = new HashMap<>();
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT room, seconds FROM slow_modes")) {
                while (rs.next()) {
                    modes.put(rs.getString(1), rs.getInt(2));
                }
            }
            return modes;
        });
    }

    @Override
    public void audit(AuditEntry e) {
        call("logging a " + e.action() + " in room " + e.room(), c -> update(c,
                "INSERT INTO audit(room, at, by_user, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
                e.room(), e.at(), e.by(), e.action(), e.target(), e.detail()));
    }

    @Override
    public List<AuditEntry> audit(String room, long before, int limit) {
        return call("reading the audit log of room " + room, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT id, room, at, by_user, action, target, detail "
                    + "FROM audit WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?")) {
                bind(ps, room, before, limit);
                List<AuditEntry> rows = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        rows.add(new AuditEntry(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getString(4),
                                rs.getString(5), rs.getString(6), rs.getString(7)));
                    }
                }
                return rows;
            }
        });
    }

    static int update(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, args);
            return ps.executeUpdate();
        }
    }

    private static List<Account> accounts(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, args);
            List<Account> rows = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new Account(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getString(5), Account.splitRoles(rs.getString(6)), rs.getLong(7)));
                }
            }
            return rows;
        }
    }

    private static void bind(PreparedStatement ps, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            ps.setObject(i + 1, args[i]);
        }
    }
}
