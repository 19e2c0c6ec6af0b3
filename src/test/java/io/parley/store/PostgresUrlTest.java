package io.parley.store;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code --postgres-url} in either form an operator may have, and a password that never shows. */
class PostgresUrlTest {

    @Test
    void theLibpqFormBecomesAJdbcUrlWithTheCredentialsApart() {
        PostgresUrl url = PostgresUrl.parse("postgresql://chat:s3cr%40t%3A+x@db.example:6432/parley?sslmode=require");
        assertThat(url).isEqualTo(new PostgresUrl("jdbc:postgresql://db.example:6432/parley?sslmode=require",
                "chat", "s3cr@t:+x"));
        assertThat(PostgresUrl.parse("postgres://db/parley"))
                .isEqualTo(new PostgresUrl("jdbc:postgresql://db/parley", null, null));
        assertThat(PostgresUrl.parse("postgresql://chat@[::1]:5432/parley?password=pw&connect_timeout=3"))
                .isEqualTo(new PostgresUrl("jdbc:postgresql://[::1]:5432/parley?connect_timeout=3", "chat", "pw"));
    }

    @Test
    void aJdbcUrlKeepsItsPropertiesButGivesUpItsCredentials() {
        assertThat(PostgresUrl.parse("jdbc:postgresql://db:5432/parley?user=chat&ssl=true&password=p%26w"))
                .isEqualTo(new PostgresUrl("jdbc:postgresql://db:5432/parley?ssl=true", "chat", "p&w"));
        assertThat(PostgresUrl.parse(" jdbc:postgresql:parley "))
                .isEqualTo(new PostgresUrl("jdbc:postgresql:parley", null, null));
    }

    @Test
    void thePasswordNeverShows() {
        PostgresUrl url = PostgresUrl.parse("postgresql://chat:hunter2@db/parley");
        assertThat(url.toString()).contains("jdbc:postgresql://db/parley", "chat").doesNotContain("hunter2");
        assertThatThrownBy(() -> PostgresUrl.parse("mysql://chat:hunter2@db/parley"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> PostgresUrl.parse("postgresql://chat:hun ter2@db/parley"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageNotContaining("hun ter2")
                .hasMessageNotContaining("hunter2");
    }
}
