package io.parley.browser;

import com.fasterxml.jackson.databind.JsonNode;
import io.parley.auth.Tokens;
import io.parley.browser.ChatPage.Line;
import io.parley.browser.ChatPage.RoomEntry;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Moderation as the browser client shows it (issue 12, "Browser client"): a deleted message loses
 * its text on every page, live and from history; a timed-out user sees until when and cannot write
 * meanwhile, told at once and again after a reload, until it is lifted; a ban takes the room off the page with the reason; and only those who may moderate a
 * room get per-message actions, each confirmed.
 */
class ModerationBrowserTest {

    private static final String SECRET = "moderation-browser-secret-at-least-32-bytes";
    private static final Tokens TOKENS = new Tokens(SECRET);

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    private TestServer start() throws Exception {
        return pages.closedAfter(TestServer.start(dir, c -> c.withAccess(c.access().withTokenSecret(SECRET))));
    }

    private static String token(String user, String name, String... roles) {
        return TOKENS.mint(user, name, List.of(roles), Duration.ofMinutes(10));
    }

    private WsClient as(TestServer server, String token) {
        WsClient ws = pages.closedAfter(WsClient.connect(server.chatUri(), Map.of("Authorization", "Bearer " + token)));
        ws.send(Map.of("type", "hello"));
        ws.expect("welcome");
        return ws;
    }

    @Test
    void aGuestSeesADeletionLiveAndAfterAReloadItsTimeoutUntilWhenAndABanTakesTheRoomAway() throws Exception {
        TestServer server = start();
        ChatPage gus = pages.joined(server.httpUri("/"), "gus", "side");
        gus.join(null, "lobby");
        gus.say("keep this");
        gus.say("delete this");
        long seq = gus.awaitText("delete this").seq();
        gus.awaitText("keep this");

        WsClient admin = as(server, token("u-admin", "Root", "admin"));
        admin.send(Map.of("type", "delete", "room", "lobby", "seq", seq, "ref", "d1"));
        admin.expect("deleted", m -> m.path("ref").asText().equals("d1"));
        gus.awaitText("message deleted by u-admin");
        assertThat(gus.messages()).extracting(Line::text).containsExactly("keep this", "message deleted by u-admin");

        gus.reload();
        gus.awaitConnected();
        gus.show("lobby");
        gus.awaitText("message deleted by u-admin");
        assertThat(gus.messages()).as("the tombstone from history, never the text")
                .extracting(Line::text).containsExactly("keep this", "message deleted by u-admin");

        admin.send(Map.of("type", "timeout", "room", "lobby", "user", "guest:gus", "seconds", 600));
        JsonNode timeout = admin.expect("moderated");
        String until = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault())
                .format(Instant.ofEpochMilli(timeout.path("until").asLong()));
        // Told by the server at once: nothing sent.
        gus.await("the timeout shown without a send", d -> gus.roomBlock().contains("until " + until));
        assertThat(gus.roomBlock()).contains("timed out in lobby");
        assertThat(gus.composerEnabled()).as("no writing until the timeout ends").isFalse();
        gus.reload();
        gus.awaitConnected();
        gus.show("lobby");
        gus.await("the timeout shown after a reload", d -> gus.roomBlock().contains("until " + until));
        assertThat(gus.composerEnabled()).as("still no writing after a reload").isFalse();
        gus.show("side");
        assertThat(gus.composerEnabled()).as("another room takes messages").isTrue();
        assertThat(gus.roomBlock()).isEmpty();
        gus.show("lobby");
        assertThat(gus.composerEnabled()).isFalse();
        admin.send(Map.of("type", "timeout", "room", "lobby", "user", "guest:gus", "seconds", 0));
        gus.await("the lifted timeout", d -> gus.roomBlock().isEmpty() && gus.composerEnabled());
        gus.say("free again");
        gus.awaitText("free again");

        admin.send(Map.of("type", "ban", "room", "lobby", "user", "guest:gus"));
        admin.expect("moderated", m -> m.path("action").asText().equals("ban"));
        gus.await("lobby gone from the page", d -> gus.rooms().stream().noneMatch(r -> r.room().equals("lobby") && r.joined()));
        assertThat(gus.notice()).isEqualTo("You were banned from lobby.");
        assertThat(gus.rooms()).filteredOn(RoomEntry::joined).extracting(RoomEntry::room).containsExactly("side");
    }

    @Test
    void aRoomModeratorsPageDeletesAndBansAndAPlainMembersPageOffersNothing() throws Exception {
        TestServer server = start();
        WsClient admin = as(server, token("u-admin", "Root", "admin"));
        admin.send(Map.of("type", "create", "room", "staff"));
        admin.expect("room");
        admin.send(Map.of("type", "grant", "room", "staff", "user", "u-mo", "role", "moderator"));
        admin.expect("room");

        ChatPage mel = pages.open(server.httpUri("/#token=" + token("u-mel", "Mel")));
        mel.join(null, "staff");
        mel.say("first");
        mel.say("second");
        mel.awaitText("second");

        ChatPage mo = pages.open(server.httpUri("/#token=" + token("u-mo", "Mo")));
        mo.join(null, "staff");
        mo.await("actions on Mel's message", d -> !mo.moderationActions("first").isEmpty());
        assertThat(mo.moderationActions("first")).containsExactly("delete", "timeout-60", "timeout-600", "ban");
        assertThat(mel.offersModeration()).as("a plain member's page offers no actions").isFalse();
        assertThat(mel.settingsOffered()).as("nor the room's settings").isFalse();
        assertThat(mo.settingsOffered()).as("a moderator is not the owner: no settings").isFalse();
        assertThat(mo.membersOffered()).as("but a moderator invites members").isTrue();
        assertThat(mel.membersOffered()).isFalse();

        assertThat(mo.moderate("first", "delete")).contains("Delete message 1 in staff");
        mel.awaitText("message deleted by u-mo");
        mo.awaitText("message deleted by u-mo");
        assertThat(mo.moderationActions("message deleted by u-mo")).as("nothing left to delete").isEmpty();

        assertThat(mo.moderate("second", "ban")).contains("Ban u-mel from staff");
        mel.await("staff gone from Mel's page", d -> mel.rooms().stream().noneMatch(r -> r.room().equals("staff") && r.joined()));
        assertThat(mel.notice()).isEqualTo("You were banned from staff.");
    }

    @Test
    void aSignedInUserMakesAPrivateRoomFromThePageAndItsOwnerSetsWhoWritesAndSlowMode() throws Exception {
        TestServer server = start();
        ChatPage ola = pages.open(server.httpUri("/#token=" + token("u-ola", "Ola")));
        ola.join(null, "lobby");
        ola.createPrivateRoom("den");
        ola.await("the owner's settings panel", d -> ola.settingsOffered());
        ola.saveSettings("private", "members", 30);
        ola.await("saved", d -> ola.notice().contains("slow mode, one message per 30 s")
                || ola.notice().contains("members write"));

        WsClient admin = as(server, token("u-admin", "Root", "admin"));
        admin.send(Map.of("type", "room_settings", "room", "den"));
        JsonNode record = admin.expect("room");
        assertThat(record.path("kind").asText()).isEqualTo("private");
        assertThat(record.path("createdBy").asText()).isEqualTo("u-ola");
        assertThat(record.path("roles").path("u-ola").asText()).isEqualTo("owner");
        // the page's `set` is stored: poll, the answer may come after the slow mode's
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String write;
        do {
            admin.send(Map.of("type", "room_settings", "room", "den"));
            write = admin.expect("room").path("write").asText();
        } while (!write.equals("members") && System.nanoTime() < deadline);
        assertThat(write).isEqualTo("members");

        ChatPage guest = pages.joined(server.httpUri("/"), "gwen", "lobby");
        guest.await("the room list", d -> guest.rooms().stream().anyMatch(r -> r.room().equals("lobby")));
        assertThat(guest.rooms()).extracting(RoomEntry::room).as("a private room is not listed to others").doesNotContain("den");
        assertThat(guest.settingsOffered()).isFalse();
    }
    @Test
    void anOwnerInvitesASignedInUserIntoAPrivateRoomFromThePageWhichThenListsItAndJoinsUntilRevoked() throws Exception {
        TestServer server = start();
        ChatPage ola = pages.open(server.httpUri("/#token=" + token("u-ola", "Ola")));
        ola.join(null, "lobby");
        ola.createPrivateRoom("den");
        ChatPage pia = pages.open(server.httpUri("/#token=" + token("u-pia", "Pia")));
        pia.join(null, "lobby");
        pia.await("the room list", d -> pia.rooms().stream().anyMatch(r -> r.room().equals("lobby")));
        assertThat(pia.rooms()).extracting(RoomEntry::room).as("not invited yet").doesNotContain("den");

        ola.await("the owner's panel", d -> ola.membersOffered());
        ola.member("u-pia", true);
        ola.await("invited", d -> ola.notice().equals("u-pia is a member of den."));

        // The room list is asked for on connecting (and every minute): a reload shows it at once.
        pia.reload();
        pia.awaitConnected();
        pia.await("den listed", d -> pia.rooms().stream().anyMatch(r -> r.room().equals("den")));
        pia.joinListed("den");
        pia.show("den");
        pia.say("thanks for the invite");
        ola.awaitText("thanks for the invite");

        ola.member("u-pia", false);
        ola.await("revoked", d -> ola.notice().equals("u-pia is no longer a member of den."));
        pia.await("den gone from Pia's page", d -> pia.rooms().stream().noneMatch(r -> r.room().equals("den") && r.joined()));
        assertThat(pia.notice()).isEqualTo("Your access to den was revoked.");
    }
}
