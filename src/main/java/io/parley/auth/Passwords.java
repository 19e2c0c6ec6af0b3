package io.parley.auth;

import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Account passwords: Argon2id (RFC 9106) through Bouncy Castle, kept as a PHC string
 * ({@code $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>}, unpadded base64), so the parameters and salt
 * travel with each hash and can be raised later without breaking the accounts hashed before.
 *
 * <p>Parameters: OWASP's first recommendation for Argon2id, 19 MiB of memory, 2 passes, 1 lane; a 16-byte
 * random salt and a 32-byte hash. One hash holds 19 MiB of heap while it runs and takes one core for
 * tens of milliseconds (measured 144-174 ms per check on this project's 2-core build machine with a load
 * average of 12, i.e. shared with other work): callers bound how many run at once ({@code Accounts}'
 * hashing pool).
 *
 * <p>A password is 8 to {@value #MAX_LENGTH} code points, counted as the chat counts text; nothing
 * else is asked of it (NIST SP 800-63B: length, not composition rules).
 *
 * <p>Threads: stateless apart from the {@link SecureRandom}, which is thread-safe. Blocks a core for the
 * whole hash: never call it on an event loop.
 */
public final class Passwords {

    public static final int MIN_LENGTH = 8;
    public static final int MAX_LENGTH = 1024;
    static final int MEMORY_KIB = 19 * 1024;
    static final int ITERATIONS = 2;
    static final int PARALLELISM = 1;
    private static final int SALT_BYTES = 16;
    private static final int HASH_BYTES = 32;
    private static final Pattern PHC = Pattern.compile(
            "\\$argon2id\\$v=19\\$m=(\\d{1,7}),t=(\\d{1,2}),p=(\\d{1,2})\\$([A-Za-z0-9+/]{11,64})\\$([A-Za-z0-9+/]{22,128})");
    private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
    private static final Base64.Decoder B64_DECODER = Base64.getDecoder();

    private final SecureRandom random = new SecureRandom();
    /**
     * What an unknown name is checked against, so that it takes as long as a wrong password. Made at the
     * first {@link #verify}: the CLI, which only hashes, never pays for it.
     */
    private volatile String dummy;

    /**
     * Refuses a password that is too short or too long.
     *
     * @throws WeakPassword saying why, fit to show the user
     */
    public static void check(String password) {
        int length = password == null ? 0 : password.codePointCount(0, password.length());
        if (length < MIN_LENGTH || length > MAX_LENGTH) {
            throw new WeakPassword("a password must be " + MIN_LENGTH + "-" + MAX_LENGTH + " characters");
        }
    }

    /** A new PHC string for {@code password}, with a fresh salt. Blocks for one Argon2id run. */
    public String hash(String password) {
        byte[] salt = new byte[SALT_BYTES];
        random.nextBytes(salt);
        byte[] hash = argon2(password, salt, MEMORY_KIB, ITERATIONS, PARALLELISM, HASH_BYTES);
        return "$argon2id$v=19$m=" + MEMORY_KIB + ",t=" + ITERATIONS + ",p=" + PARALLELISM + "$"
                + B64.encodeToString(salt) + "$" + B64.encodeToString(hash);
    }

    /**
     * Whether {@code password} is the one {@code stored} was made from; with {@code stored} null (no
     * such account), checks against a dummy hash and answers false, in about the same time.
     */
    public boolean verify(String stored, String password) {
        if (stored == null) {
            String d = dummy;
            if (d == null) {
                d = hash("not a password of anyone " + random.nextLong());
                dummy = d;
            }
            matches(d, password);
            return false;
        }
        return matches(stored, password);
    }

    private static boolean matches(String stored, String password) {
        Matcher m = PHC.matcher(stored);
        if (!m.matches()) {
            throw new IllegalArgumentException("not an Argon2id PHC string this server wrote");
        }
        byte[] salt = B64_DECODER.decode(m.group(4));
        byte[] expected = B64_DECODER.decode(m.group(5));
        byte[] actual = argon2(password, salt, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3)), expected.length);
        return MessageDigest.isEqual(expected, actual);
    }

    private static byte[] argon2(String password, byte[] salt, int memoryKib, int iterations, int parallelism,
                                 int length) {
        Argon2Parameters parameters = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                .withSalt(salt)
                .withMemoryAsKB(memoryKib)
                .withIterations(iterations)
                .withParallelism(parallelism)
                .build();
        Argon2BytesGenerator generator = new Argon2BytesGenerator();
        generator.init(parameters);
        byte[] secret = password.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[length];
        try {
            generator.generateBytes(secret, out);
        } finally {
            Arrays.fill(secret, (byte) 0);
        }
        return out;
    }

    /** A password that breaks the length rule; the message says which. */
    public static final class WeakPassword extends RuntimeException {
        public WeakPassword(String reason) {
            super(reason, null, false, false);
        }
    }
}
