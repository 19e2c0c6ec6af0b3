package io.parley.account;

import io.parley.auth.DisplayNames;
import io.parley.auth.Passwords;
import io.parley.auth.RegisteredNames;
import io.parley.auth.Tokens;
import io.parley.chat.ChatException;
import io.parley.chat.ChatRules;
import io.parley.chat.ErrorCode;
import io.parley.config.ServerConfig;
import io.parley.store.Account;
import io.parley.store.AccountStore;
import io.parley.store.RoomStore;
import io.parley.store.StoreException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Sign-in with Parley's own accounts (docs/OPERATIONS.md, "Accounts"): sign in and sign up, which hash
 * a password; a session's token, which looks the session up; sign out. Every call answers with a
 * future that completes on a worker thread: the caller (the HTTP API, on an event loop) hops back to its
 * loop to answer.
 *
 * <p><b>Threads and bounds.</b> Argon2id takes a core for tens of milliseconds (144-174 ms measured
 * on a busy 2-core machine) and 19 MiB of heap per password,
 * so hashing runs on {@link #HASHERS} threads of its own (half the cores, 1 to 4) with at most
 * {@value #HASH_QUEUE} attempts waiting; past that a sign-in is refused {@code overloaded} at once. A
 * flood of sign-ins therefore holds at most 4 × 19 MiB, and a session's token, which needs no hash, never waits behind
 * them: it runs on {@value #LOOKUPS} threads of their own ({@value #LOOKUP_QUEUE} waiting at most). A
 * third thread re-reads the registered names every {@link #NAMES_REFRESH} (so a guest cannot take a
 * name registered on another node, or by {@code parley user add}, for longer than that plus one query)
 * and deletes expired sessions once an hour.
 *
 * <p><b>Sessions.</b> A session id is 32 random bytes (base64url in the cookie); the database keeps its
 * SHA-256 only. It lives {@code sessionLifetime} and may be revoked (sign out, {@code parley user
 * remove}/{@code passwd}). Tokens minted from it live {@code tokenTtl}: a browser asks again before
 * they run out, and a revoked session gets no new one.
 *
 * <p><b>The token secret.</b> Tokens are the server's usual HS256 JWTs. Without {@code --token-secret}
 * the server makes one at first start and keeps it in the database ({@code settings.token_secret}), so a
 * restart and every node sharing the database use the same.
 */
public final class Accounts implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Accounts.class);

    /**
     * Half the cores, 1 to 4: hashing never takes every core from the event loops, and a flood holds at
     * most 4 × 19 MiB.
     */
    static final int HASHERS = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors() / 2));
    static final int HASH_QUEUE = 32;
    static final int LOOKUPS = 2;
    static final int LOOKUP_QUEUE = 256;
    public static final Duration NAMES_REFRESH = Duration.ofSeconds(2);
    private static final Duration PRUNE_EVERY = Duration.ofHours(1);
    /** The prefix of every account's user id: a host site's token users are told apart by it. */
    public static final String USER_PREFIX = "account:";
    static final String SECRET_SETTING = "token_secret";
    private static final int SESSION_BYTES = 32;

    private final AccountStore store;
    private final ServerConfig.Accounts policy;
    private final Passwords passwords;
    private final RegisteredNames names = new RegisteredNames();
    private final String tokenSecret;
    private final Tokens tokens;
    private final ThreadPoolExecutor hashing;
    private final ThreadPoolExecutor lookups;
    private final ScheduledExecutorService refresher;
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Whether the last refresh of the names failed; the refresher thread's alone. */
    private boolean namesFailing;

    private Accounts(AccountStore store, ServerConfig config, String threadPrefix) {
        this.store = store;
        this.policy = config.access().accounts();
        String configured = config.access().tokenSecret();
        this.tokenSecret = configured != null ? configured : store.settingOrInit(SECRET_SETTING, newSecret());
        this.tokens = new Tokens(tokenSecret, config.access().tokenLeeway());
        this.passwords = new Passwords();
        this.hashing = pool(threadPrefix + "-passwords", HASHERS, HASH_QUEUE);
        this.lookups = pool(threadPrefix + "-sessions", LOOKUPS, LOOKUP_QUEUE);
        this.refresher = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, threadPrefix + "-names"));
        refreshNames();
        refresher.scheduleWithFixedDelay(this::refreshNames, NAMES_REFRESH.toMillis(), NAMES_REFRESH.toMillis(),
                TimeUnit.MILLISECONDS);
        refresher.scheduleWithFixedDelay(this::pruneSessions, 1, PRUNE_EVERY.toMinutes(), TimeUnit.MINUTES);
    }

    /**
     * Opens the accounts in the server's database (SQLite in its data directory, or its PostgreSQL) and
     * loads the registered names. Blocks: call at start-up.
     */
    public static Accounts open(ServerConfig config, String threadPrefix) {
        AccountStore store = openStore(config);
        try {
            return new Accounts(store, config, threadPrefix);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /** The account store of a server's configuration: {@code --postgres-url}'s, or SQLite in {@code --data-dir}. */
    public static AccountStore openStore(ServerConfig config) {
        return config.postgres() != null ? AccountStore.openPostgres(config.postgres())
                : AccountStore.openSqlite(config.dataDir(), config.sqliteBusyTimeout());
    }

    /** The secret tokens are signed and checked with: the configured one, or the one kept in the database. */
    public String tokenSecret() {
        return tokenSecret;
    }

    /** The rooms created explicitly, in the accounts' database. */
    public RoomStore rooms() {
        return store.rooms();
    }

    /** The registered names guests may not look like. */
    /** The database the accounts are in, which also keeps the rooms' bans and timeouts (chat.Sanctions). */
    public AccountStore store() {
        return store;
    }

    public RegisteredNames names() {
        return names;
    }

    public boolean openSignup() {
        return policy.openSignup();
    }

    /** What a sign-in, a sign-up or a session's token grants. */
    public record Grant(String user, String name, List<String> roles, String token, long validUntil,
                        String sessionId) {
    }

    /**
     * Signs {@code name} in with {@code password}: a new session and a token. Fails with
     * {@code bad_credentials} for a wrong password and an unknown name alike, after about as long.
     */
    public CompletableFuture<Grant> signIn(String name, String password) {
        return submit(hashing, () -> {
            Account account = find(store, name);
            boolean ok = password != null && password.length() <= 4 * Passwords.MAX_LENGTH
                    && passwords.verify(account == null ? null : account.passwordHash(), password);
            if (!ok || account == null) {
                throw new ChatException(ErrorCode.BAD_CREDENTIALS, "wrong name or password");
            }
            return newSession(account);
        });
    }

    /**
     * Registers {@code name} (only with {@code --open-signup}) and signs it in. Fails with
     * {@code signup_closed}, {@code invalid_name}, {@code weak_password} or {@code name_taken}.
     */
    public CompletableFuture<Grant> signUp(String name, String password) {
        if (!policy.openSignup()) {
            return CompletableFuture.failedFuture(new ChatException(ErrorCode.SIGNUP_CLOSED,
                    "this server does not take sign-ups; ask its operator for an account"));
        }
        String checked;
        try {
            checked = ChatRules.name(name);
            checkPassword(password);
        } catch (ChatException e) {
            return CompletableFuture.failedFuture(e);
        }
        return submit(hashing, () -> newSession(register(store, passwords, names, checked, password, List.of())));
    }

    /** A fresh token for the session whose cookie value is {@code sessionId}; {@code unauthorized} if none. */
    public CompletableFuture<Grant> token(String sessionId) {
        return submit(lookups, () -> {
            Account account = sessionId == null ? null : store.findSession(hash(sessionId), System.currentTimeMillis());
            if (account == null) {
                throw new ChatException(ErrorCode.UNAUTHORIZED, "not signed in, or the session has ended");
            }
            return grant(account, null);
        });
    }

    /** Revokes the session whose cookie value is {@code sessionId}, if there is one. */
    public CompletableFuture<Void> signOut(String sessionId) {
        return submit(lookups, () -> {
            if (sessionId != null) {
                store.revokeSession(hash(sessionId), System.currentTimeMillis());
            }
            return null;
        });
    }

    /** Refuses a password the rules refuse, as {@code weak_password}. */
    public static void checkPassword(String password) {
        try {
            Passwords.check(password);
        } catch (Passwords.WeakPassword e) {
            throw new ChatException(ErrorCode.WEAK_PASSWORD, e.getMessage());
        }
    }

    /**
     * Hashes the password and stores a new account (blocks: a worker, or the CLI). {@code names}, when
     * given, learns the name at once.
     *
     * @throws ChatException {@code name_taken} when an account's name looks like it
     */
    public static Account register(AccountStore store, Passwords passwords, RegisteredNames names, String name,
                                   String password, List<String> roles) {
        List<String> keys = DisplayNames.skeletons(name);
        byte[] id = new byte[10];
        RANDOM.nextBytes(id);
        Account account = new Account(USER_PREFIX + HexFormat.of().formatHex(id), name, keys.get(0), keys.get(1),
                passwords.hash(password), roles, System.currentTimeMillis());
        try {
            store.add(account);
        } catch (AccountStore.NameTaken e) {
            throw new ChatException(ErrorCode.NAME_TAKEN, e.getMessage());
        }
        if (names != null) {
            names.add(name);
        }
        return account;
    }

    /**
     * The account a name means: the one whose name looks like it (case and look-alike characters aside),
     * or null. Blocks.
     */
    public static Account find(AccountStore store, String name) {
        String trimmed;
        try {
            trimmed = DisplayNames.check(name);
        } catch (DisplayNames.UnsafeName e) {
            return null;
        }
        return store.findByKey(DisplayNames.skeletons(trimmed).get(1));
    }

    private Grant newSession(Account account) {
        byte[] raw = new byte[SESSION_BYTES];
        RANDOM.nextBytes(raw);
        String sessionId = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        long now = System.currentTimeMillis();
        store.addSession(hash(sessionId), account.id(), now, now + policy.sessionLifetime().toMillis());
        return grant(account, sessionId);
    }

    private Grant grant(Account account, String sessionId) {
        String token = tokens.mint(account.id(), account.name(), account.roles(), policy.tokenTtl());
        long validUntil = tokens.verify(token).validUntil().toEpochMilli();
        return new Grant(account.id(), account.name(), account.roles(), token, validUntil, sessionId);
    }

    /** How long a session cookie lives, for its Max-Age. */
    public Duration sessionLifetime() {
        return policy.sessionLifetime();
    }

    /** SHA-256 of a session id, hex: what the database keeps instead of the id. */
    static String hash(String sessionId) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(sessionId.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static String newSecret() {
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
    }

    private <T> CompletableFuture<T> submit(ThreadPoolExecutor pool, Supplier<T> work) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return work.get();
                } catch (StoreException e) {
                    log.warn("accounts: {}", e.getMessage());
                    throw new ChatException(ErrorCode.STORE_UNAVAILABLE, "the accounts database is unavailable; retry later");
                }
            }, pool);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new ChatException(ErrorCode.OVERLOADED,
                    "too many sign-ins at once; retry in a second", 1000));
        }
    }

    private void refreshNames() {
        long started = System.nanoTime();
        try {
            names.replaceAll(store.keys(), started);
            if (namesFailing) {
                namesFailing = false;
                log.info("accounts: re-reading the registered names works again");
            }
        } catch (RuntimeException e) {
            // Once per outage, not every 2 s: the names last read stay in force meanwhile.
            if (!namesFailing) {
                namesFailing = true;
                log.warn("accounts: re-reading the registered names failed; keeping the last ones read: {}",
                        e.getMessage());
            }
        }
    }

    private void pruneSessions() {
        try {
            store.pruneSessions(System.currentTimeMillis());
        } catch (RuntimeException e) {
            log.warn("accounts: deleting expired sessions failed: {}", e.getMessage());
        }
    }

    private static ThreadPoolExecutor pool(String name, int threads, int queue) {
        return new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(queue),
                r -> daemon(r, name), new ThreadPoolExecutor.AbortPolicy());
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Stops the workers (a sign-in under way finishes, within a second) and closes the database. */
    @Override
    public void close() {
        refresher.shutdownNow();
        hashing.shutdown();
        lookups.shutdown();
        try {
            hashing.awaitTermination(1, TimeUnit.SECONDS);
            lookups.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        store.close();
    }
}
