package io.parley.auth;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Argon2id password hashes: OWASP's parameters in a PHC string, a fresh salt each time, and the length rule. */
class PasswordsTest {

    private final Passwords passwords = new Passwords();

    @Test
    void aHashIsAnArgon2idPhcStringWithOwaspParametersAndItsOwnSalt() {
        String first = passwords.hash("correct horse");
        String second = passwords.hash("correct horse");

        assertThat(first).matches("\\$argon2id\\$v=19\\$m=19456,t=2,p=1\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}");
        assertThat(second).as("a fresh salt").isNotEqualTo(first);
        assertThat(passwords.verify(first, "correct horse")).isTrue();
        assertThat(passwords.verify(second, "correct horse")).isTrue();
        assertThat(passwords.verify(first, "correct horsE")).isFalse();
    }

    @Test
    void aHashFromTheArgon2ReferenceImplementationVerifies() {
        // Made by the reference implementation's CLI (Debian's argon2 package):
        //   echo -n "correct horse" | argon2 saltsaltsaltsalt -id -t 2 -k 19456 -p 1 -l 32 -e
        String reference = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AdweBLwcflnNX2HVW8i1Mtu7frrn4Ki7h/rYSGuU7Is";
        assertThat(passwords.verify(reference, "correct horse")).isTrue();
        assertThat(passwords.verify(reference, "correct horse ")).isFalse();
    }

    @Test
    void anUnknownAccountNeverVerifies() {
        assertThat(passwords.verify(null, "correct horse")).isFalse();
        assertThat(passwords.verify(null, "")).isFalse();
    }

    @Test
    void aPasswordIsEightToTenTwentyFourCodePoints() {
        Passwords.check("12345678");
        Passwords.check("\uD83D\uDE00".repeat(1024));
        assertThatThrownBy(() -> Passwords.check("1234567")).isInstanceOf(Passwords.WeakPassword.class);
        assertThatThrownBy(() -> Passwords.check("x".repeat(1025))).isInstanceOf(Passwords.WeakPassword.class);
        assertThatThrownBy(() -> Passwords.check(null)).isInstanceOf(Passwords.WeakPassword.class);
    }
}
