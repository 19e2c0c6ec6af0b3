package io.parley.browser;

import io.parley.browser.ChatPage.Link;
import io.parley.testing.TestServer;
import io.parley.testing.WsClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.Keys;

import java.nio.file.Path;
import java.time.Year;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * How the browser client shows and takes messages (issue 11, "Messages"): clickable http(s) links
 * and nothing else, day separators and full dates on hover, Shift+Enter for a new line, and a length
 * counter that counts what the server counts.
 */
class MessagesBrowserTest {

    @TempDir
    Path dir;

    @RegisterExtension
    final Pages pages = new Pages();

    @Test
    void linksAreClickableForHttpAndHttpsOnly() throws Exception {
        TestServer server = pages.closedAfter(TestServer.start(dir));
        ChatPage ada = pages.joined(server.httpUri("/"), "ada", "lobby");
        String text = "see https://example.org/a?b=1, javascript:alert(1) data:text/html,x and (http://x.test/y).";
        try (WsClient bob = WsClient.hello(server.chatUri(), "bob")) {
            bob.join("lobby");
            bob.say("lobby", "l1", text);
            bob.expect("ack");
        }
        assertThat(ada.awaitText(text).text()).as("the text reads as sent").isEqualTo(text);
        assertThat(ada.links(text)).containsExactly(
                new Link("https://example.org/a?b=1", "https://example.org/a?b=1", "noopener noreferrer", "_blank"),
                new Link("http://x.test/y", "http://x.test/y", "noopener noreferrer", "_blank"));
        assertThat(ada.script("return typeof window.alert === 'function' && !window.pwned")).isEqualTo(true);
    }

    @Test
    void messagesOfADayFollowTheirDaySeparatorAndShowTheFullDateOnHover() throws Exception {
        TestServer server = pages.closedAfter(TestServer.start(dir));
        ChatPage ada = pages.joined(server.httpUri("/"), "ada", "lobby");
        ada.say("first");
        ada.say("second");
        ada.awaitText("second");
        assertThat(ada.daySeparators()).containsExactly("Today");
        assertThat(ada.dateOnHover("first")).contains(String.valueOf(Year.now().getValue()));
    }

    @Test
    void shiftEnterStartsANewLineAndEnterSends() throws Exception {
        TestServer server = pages.closedAfter(TestServer.start(dir));
        ChatPage ada = pages.joined(server.httpUri("/"), "ada", "lobby");
        ada.type("line one", Keys.chord(Keys.SHIFT, Keys.ENTER), "line two");
        assertThat(ada.draft()).isEqualTo("line one\nline two");
        ada.type(Keys.ENTER);
        ada.awaitText("line one\nline two");
        assertThat(ada.draft()).isEmpty();
    }

    @Test
    void theLengthCounterCountsCodePointsAsTheServerDoes() throws Exception {
        // At most 10 characters: ten emoji are 20 UTF-16 units, and the server takes them.
        TestServer server = pages.closedAfter(TestServer.start(dir, c -> c.withLimits(c.maxFrameBytes(), 10,
                c.outboundBufferBytes())));
        ChatPage ada = pages.joined(server.httpUri("/"), "ada", "lobby");
        String ten = "😀".repeat(10);
        ada.script("const t = document.getElementById('text'); t.value = '" + ten + "';"
                + "t.dispatchEvent(new Event('input'));");
        assertThat(ada.counter()).isEqualTo("10/10");
        ada.type(Keys.ENTER);
        ada.awaitText(ten);
        ada.script("const t = document.getElementById('text'); t.value = '" + ten + "x';"
                + "t.dispatchEvent(new Event('input'));");
        assertThat(ada.counter()).isEqualTo("11/10");
        assertThat(ada.script("return document.getElementById('counter').dataset.over")).isEqualTo("true");
        ada.type(Keys.ENTER);
        assertThat(ada.unsent()).as("too long: not queued").isEmpty();
        assertThat(ada.draft()).as("kept for the writer to shorten").isEqualTo(ten + "x");
        assertThat(ada.messages()).hasSize(1);
        assertThat(List.of(ada.script("return document.getElementById('notice').textContent"))).first().asString()
                .contains("limited to 10");
    }
}
