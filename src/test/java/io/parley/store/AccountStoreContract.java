package io.parley.store;

import io.parley.auth.DisplayNames;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What every {@link AccountStore} promises, run against each implementation by a subclass that opens
 * one on fresh data (each call within a test opens the same data).
 */
abstract class AccountStoreContract {

    private final List<AccountStore> opened = new ArrayList<>();

    protected abstract AccountStore openStore();

    private AccountStore store() {
        AccountStore s = openStore();
        opened.add(s);
        return s;
    }

    @AfterEach
    void closeStores() {
        opened.forEach(AccountStore::close);
    }

    static Account account(String id, String name) {
        List<String> keys = DisplayNames.skeletons(name);
        return new Account(id, name, keys.get(0), keys.get(1), "$argon2id$hash-of-" + name, List.of(), 1_795_305_600_000L);
    }

    @Test
    void bansAndTimeoutsArePersistedReplacedLiftedAndExpire() {
        AccountStore s = store();
        Sanction ban = new Sanction("lobby", "guest:eve", Sanction.BAN, 0, "u-admin", 1000);
        Sanction timeout = new Sanction("lobby", "account:7", Sanction.TIMEOUT, 5000, "u-admin", 1000);
        s.putSanction(ban);
        s.putSanction(timeout);
        s.putSanction(new Sanction("other", "guest:eve", Sanction.TIMEOUT, 2000, "u-mod", 1000));
        assertThat(s.sanctions(1500)).containsExactlyInAnyOrder(ban, timeout,
                new Sanction("other", "guest:eve", Sanction.TIMEOUT, 2000, "u-mod", 1000));
        // An ended timeout is no longer enforced; a ban has no end.
        assertThat(s.sanctions(2000)).containsExactlyInAnyOrder(ban, timeout);
        assertThat(s.sanctions(Long.MAX_VALUE)).containsExactly(ban);
        // A second timeout replaces the first.
        Sanction longer = new Sanction("lobby", "account:7", Sanction.TIMEOUT, 9000, "u-mod", 3000);
        s.putSanction(longer);
        assertThat(s.sanctions(1500)).contains(longer).doesNotContain(timeout);
        assertThat(s.removeSanction("lobby", "guest:eve", Sanction.BAN)).isTrue();
        assertThat(s.removeSanction("lobby", "guest:eve", Sanction.BAN)).isFalse();
        // And all of it is in the database, not in the store object.
        assertThat(store().sanctions(1500)).containsExactlyInAnyOrder(longer,
                new Sanction("other", "guest:eve", Sanction.TIMEOUT, 2000, "u-mod", 1000));
    }

    @Test
    void slowModesAreSetReplacedAndTurnedOff() {
        AccountStore s = store();
        s.putSlowMode("lobby", 30, "u-admin", 1000);
        s.putSlowMode("other", 5, "u-admin", 1000);
        s.putSlowMode("lobby", 10, "u-mod", 2000);
        assertThat(s.slowModes()).isEqualTo(Map.of("lobby", 10, "other", 5));
        s.putSlowMode("other", 0, "u-mod", 3000);
        assertThat(store().slowModes()).isEqualTo(Map.of("lobby", 10));
    }

    @Test
    void theAuditLogPagesARoomsEntriesNewestFirst() {
        AccountStore s = store();
        for (int i = 1; i <= 5; i++) {
            s.audit(new AuditEntry(0, "lobby", 1000 + i, "u-admin", "ban", "guest:u" + i, ""));
        }
        s.audit(new AuditEntry(0, "other", 2000, "u-mod", "slow", "", "5 s"));
        List<AuditEntry> newest = s.audit("lobby", Long.MAX_VALUE, 3);
        assertThat(newest).extracting(AuditEntry::target).containsExactly("guest:u5", "guest:u4", "guest:u3");
        assertThat(newest.get(0).id()).isGreaterThan(newest.get(1).id());
        assertThat(store().audit("lobby", newest.getLast().id(), 10)).extracting(AuditEntry::target)
                .containsExactly("guest:u2", "guest:u1");
        assertThat(s.audit("other", Long.MAX_VALUE, 10)).singleElement()
                .satisfies(e -> assertThat(e.detail()).isEqualTo("5 s"));
    }

    @Test
    void anAddedAccountIsFoundByItsFoldedSkeletonWithEverythingItHad() {
        AccountStore s = store();
        Account ann = new Account("account:1", "Ann", DisplayNames.skeletons("Ann").get(0),
                DisplayNames.skeletons("Ann").get(1), "$argon2id$x", List.of("admin", "mod"), 42);
        s.add(ann);

        assertThat(s.findByKey(DisplayNames.skeletons("ANN").get(1))).isEqualTo(ann);
        assertThat(s.findByKey(DisplayNames.skeletons("Bob").get(1))).isNull();
        assertThat(s.list()).containsExactly(ann);
        assertThat(s.keys()).containsExactlyInAnyOrderElementsOf(DisplayNames.skeletons("Ann"));
    }

    @Test
    void twoAccountsWhoseNamesLookAlikeCannotExist() {
        AccountStore s = store();
        s.add(account("account:1", "Alice"));

        // Case, a Cyrillic А, a capital I for the l: each shares a key with "Alice".
        for (String lookalike : List.of("alice", "\u0410lice", "AIice")) {
            assertThatThrownBy(() -> s.add(account("account:" + lookalike.hashCode(), lookalike)))
                    .as(lookalike).isInstanceOf(AccountStore.NameTaken.class);
        }
        s.add(account("account:2", "Alicia"));
        assertThat(s.list()).extracting(Account::name).containsExactly("Alice", "Alicia");
    }

    @Test
    void passwordRolesAndRemovalChangeOnlyTheirAccount() {
        AccountStore s = store();
        s.add(account("account:1", "ann"));
        s.add(account("account:2", "bob"));

        assertThat(s.setPassword("account:1", "$argon2id$new")).isTrue();
        assertThat(s.setRoles("account:2", List.of("admin"))).isTrue();
        assertThat(s.setPassword("account:9", "$argon2id$new")).isFalse();

        assertThat(s.findByKey(DisplayNames.skeletons("ann").get(1)).passwordHash()).isEqualTo("$argon2id$new");
        assertThat(s.findByKey(DisplayNames.skeletons("ann").get(1)).roles()).isEmpty();
        assertThat(s.findByKey(DisplayNames.skeletons("bob").get(1)).roles()).containsExactly("admin");

        assertThat(s.remove("account:1")).isTrue();
        assertThat(s.remove("account:1")).isFalse();
        assertThat(s.list()).extracting(Account::id).containsExactly("account:2");
        // The name is free again.
        s.add(account("account:3", "Ann"));
    }

    @Test
    void aSessionSignsInUntilItExpiresOrIsRevoked() {
        AccountStore s = store();
        s.add(account("account:1", "ann"));
        s.addSession("h1", "account:1", 1000, 2000);
        s.addSession("h2", "account:1", 1000, 2000);

        assertThat(s.findSession("h1", 1999).id()).isEqualTo("account:1");
        assertThat(s.findSession("h1", 2000)).as("expired").isNull();
        assertThat(s.findSession("nope", 1500)).isNull();

        s.revokeSession("h1", 1500);
        assertThat(s.findSession("h1", 1500)).isNull();
        assertThat(s.findSession("h2", 1500)).isNotNull();

        assertThat(s.revokeSessions("account:1", 1600)).isEqualTo(1);
        assertThat(s.findSession("h2", 1600)).isNull();
    }

    @Test
    void removingAnAccountEndsItsSessionsAndExpiredOnesArePruned() {
        AccountStore s = store();
        s.add(account("account:1", "ann"));
        s.addSession("h1", "account:1", 1000, 5000);
        s.addSession("old", "account:1", 1000, 1500);

        assertThat(s.pruneSessions(2000)).isEqualTo(1);
        s.remove("account:1");
        s.add(new Account("account:1", "ann", DisplayNames.skeletons("ann").get(0),
                DisplayNames.skeletons("ann").get(1), "$argon2id$x", List.of(), 1));
        assertThat(s.findSession("h1", 2000)).as("revoked with the account it belonged to").isNull();
    }

    @Test
    void aSettingKeepsTheFirstValueWrittenEvenWhenManyWriteAtOnce() throws Exception {
        List<AccountStore> nodes = List.of(store(), store(), store());
        ExecutorService threads = Executors.newFixedThreadPool(6);
        try {
            List<Callable<String>> tasks = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                AccountStore node = nodes.get(i % nodes.size());
                String value = "value-" + i;
                tasks.add(() -> node.settingOrInit("token_secret", value));
            }
            List<String> seen = new ArrayList<>();
            for (Future<String> f : threads.invokeAll(tasks)) {
                seen.add(f.get());
            }
            assertThat(seen).as("every writer reads back the one value stored").containsOnly(seen.getFirst());
            assertThat(store().settingOrInit("token_secret", "later")).isEqualTo(seen.getFirst());
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void accountsSurviveReopening() {
        store().add(account("account:1", "ann"));

        assertThat(store().list()).extracting(Account::name).containsExactly("ann");
    }

    @Test
    void aCreatedRoomIsReadBackWithItsRolesAndANameIsTakenOnce() {
        RoomStore rooms = store().rooms();
        RoomRecord secret = new RoomRecord("secret", "private", "everyone", "account:1", 42,
                Map.of("account:1", "owner", "bob", "member"));
        assertThat(rooms.create(secret)).isTrue();
        assertThat(rooms.create(new RoomRecord("secret", "public", "everyone", "x", 1, Map.of()))).isFalse();

        // Another connection (another node) sees the same.
        RoomStore other = store().rooms();
        assertThat(other.find("secret")).isEqualTo(secret);
        assertThat(other.find("nothing")).isNull();
        assertThat(other.list()).containsExactly(secret);
    }

    @Test
    void settingsAndRolesChangeAndAGrantReplacesTheRoleBefore() {
        RoomStore rooms = store().rooms();
        rooms.create(new RoomRecord("lobby", "public", "everyone", "a", 1, Map.of("a", "owner")));
        assertThat(rooms.setSettings("lobby", "public", "members")).isTrue();
        assertThat(rooms.setSettings("nowhere", "public", "members")).isFalse();
        assertThat(rooms.grant("lobby", "bob", "member")).isTrue();
        assertThat(rooms.grant("lobby", "bob", "moderator")).isTrue();
        assertThat(rooms.grant("nowhere", "bob", "member")).isFalse();
        assertThat(rooms.find("lobby")).isEqualTo(new RoomRecord("lobby", "public", "members", "a", 1,
                Map.of("a", "owner", "bob", "moderator")));
        assertThat(rooms.revoke("lobby", "bob")).isTrue();
        assertThat(rooms.revoke("lobby", "bob")).isFalse();
        assertThat(rooms.find("lobby").roles()).isEqualTo(Map.of("a", "owner"));
        assertThat(rooms.list()).extracting(RoomRecord::name).containsExactly("lobby");
    }
}
