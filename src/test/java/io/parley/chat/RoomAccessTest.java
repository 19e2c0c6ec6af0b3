package io.parley.chat;

import io.parley.auth.Identity;
import io.parley.store.AccountStore;
import io.parley.store.RoomRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link RoomAccess}'s rules over a real SQLite store: {@code mayModerate}, the hook moderation asks,
 * and what a room's record lets each kind of user do.
 */
class RoomAccessTest {

    @TempDir
    Path dir;
    AccountStore store;
    RoomAccess access;

    static Identity user(String id, String... roles) {
        return new Identity(id, id, List.of(roles), null);
    }

    @BeforeEach
    void open() {
        store = AccountStore.openSqlite(dir, Duration.ofSeconds(5));
        store.rooms().create(new RoomRecord("club", "private", "everyone", "olga", 1,
                Map.of("olga", "owner", "mo", "moderator", "mel", "member")));
        store.rooms().create(new RoomRecord("hall", "public", "members", "olga", 1, Map.of("mel", "member")));
        access = new RoomAccess(store.rooms(), true, "test");
    }

    @AfterEach
    void close() {
        access.close();
        store.close();
    }

    @Test
    void adminsOwnersAndModeratorsMayModerateMembersGuestsAndStrangersMayNot() {
        assertThat(access.mayModerate(user("ada", "admin"), "club")).isTrue();
        assertThat(access.mayModerate(user("ada", "admin"), "a-room-nobody-made")).isTrue();
        assertThat(access.mayModerate(user("olga"), "club")).isTrue();
        assertThat(access.mayModerate(user("mo"), "club")).isTrue();
        assertThat(access.mayModerate(user("mo"), "hall")).isFalse();
        assertThat(access.mayModerate(user("mel"), "club")).isFalse();
        assertThat(access.mayModerate(user("stranger"), "club")).isFalse();
        assertThat(access.mayModerate(null, "club")).isFalse();
        // A guest named like a moderator is not one: stored roles never apply to guests.
        assertThat(access.mayModerate(new Identity("guest:mo", "mo", List.of(), null), "club")).isFalse();
        assertThat(access.mayModerate(Identity.guest("mo"), "club")).isFalse();
        // A token's rooms claim counts.
        assertThat(access.mayModerate(new Identity("tok", "tok", List.of(), null, Map.of("hall", "moderator")), "hall"))
                .isTrue();
        assertThat(access.mayModerate(new Identity("tok", "tok", List.of(), null, Map.of("hall", "member")), "hall"))
                .isFalse();
    }

    @Test
    void aPrivateRoomIsNotFoundAndAMembersRoomForbiddenToOutsiders() {
        assertThatThrownBy(() -> access.checkRead(user("stranger"), "club"))
                .extracting(e -> ((ChatException) e).code()).isEqualTo(ErrorCode.NOT_FOUND);
        assertThatThrownBy(() -> access.checkRead(null, "club"))
                .extracting(e -> ((ChatException) e).code()).isEqualTo(ErrorCode.NOT_FOUND);
        access.checkRead(user("mel"), "club");
        access.checkWrite(user("mel"), "club");
        access.checkRead(null, "hall");
        assertThatThrownBy(() -> access.checkWrite(user("stranger"), "hall"))
                .extracting(e -> ((ChatException) e).code()).isEqualTo(ErrorCode.FORBIDDEN);
        access.checkWrite(user("mel"), "hall");
        access.checkWrite(user("ada", "admin"), "hall");
        access.checkWrite(Identity.guest("anyone"), "unrecorded");
        assertThat(access.visible(user("stranger"))).extracting(l -> l.room().name()).containsExactly("hall");
        assertThat(access.visible(user("mel"))).extracting(l -> l.role()).containsExactly("member", "member");
    }

    @Test
    void aChangeIsReadBackAndCachedBeforeItsFutureCompletes() throws Exception {
        RoomRecord after = access.grant(user("olga"), "club", "bob", "member").get();
        assertThat(after.roles()).containsEntry("bob", "member");
        access.checkRead(user("bob"), "club");
        access.revoke(user("mo"), "club", "bob").get();
        assertThatThrownBy(() -> access.checkRead(user("bob"), "club"))
                .extracting(e -> ((ChatException) e).code()).isEqualTo(ErrorCode.NOT_FOUND);
    }
}
