package io.parley.browser;

import io.parley.auth.Tokens;
import io.parley.browser.ChatPage.Line;
import io.parley.browser.ChatPage.Marks;
import io.parley.config.ServerConfig.Access;
import io.parley.testing.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A guest who takes a signed-in user's name does not pass for her in the page (issue 8, item 5): the
 * page decides which messages are its own by user id, marks guests, and shows direction controls in a
 * text as markers instead of applying them. Screenshots go to target/browser-artifacts/.
 */
class ImpersonationBrowserTest {

    private static final String SECRET = "impersonation-test-secret-of-32-bytes";
    /** Would read "abcexe.png" with the right-to-left override applied. */
    private static final String DISGUISED_FILE = "abc\u202Egnp.exe";
    /** How the page shows it: the override as a visible marker, not applied. */
    private static final String DISGUISED_FILE_SHOWN = "abcU+202Egnp.exe";

    @TempDir
    Path dir;
    private TestServer server;
    private final List<ChatPage> pages = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        Chromium.assumeInstalled();
        server = TestServer.start(dir, c -> c.withAccess(Access.defaults().withTokenSecret(SECRET)));
    }

    @AfterEach
    void stop(TestInfo test) throws IOException {
        try {
            for (int i = 0; i < pages.size(); i++) {
                pages.get(i).screenshot(test.getTestMethod().orElseThrow().getName() + "-" + (i + 1));
            }
        } finally {
            pages.forEach(ChatPage::close);
            server.close();
        }
    }

    private ChatPage open(URI url) throws IOException {
        ChatPage page = ChatPage.open(url);
        pages.add(page);
        return page;
    }

    @Test
    void aGuestNamedAliceIsMarkedAndOnlyTheRealAlicesMessagesAreHers() throws Exception {
        // The guest comes first: before the real Alice is seen, the name is free to take.
        ChatPage impostor = open(server.httpUri("/"));
        impostor.join("Alice", "lobby");
        impostor.say("I am Alice");
        impostor.awaitText("I am Alice");
        impostor.say(DISGUISED_FILE);
        awaitFile(impostor);

        String token = new Tokens(SECRET).mint("u-alice", "Alice", List.of(), Duration.ofMinutes(5));
        ChatPage alice = open(server.httpUri("/#token=" + token));
        alice.join(null, "lobby");
        alice.say("the real Alice");

        assertThat(alice.awaitText("the real Alice").from()).isEqualTo("Alice");
        assertThat(alice.awaitText("I am Alice").from()).isEqualTo("Alice");
        assertThat(alice.marks("the real Alice")).as("her own message, on her page").isEqualTo(new Marks(true, false));
        assertThat(alice.marks("I am Alice")).as("the guest's message, on the real Alice's page: not hers, marked")
                .isEqualTo(new Marks(false, true));

        // On the guest's page, the same: its own message by user id, not by name.
        impostor.awaitText("the real Alice");
        assertThat(impostor.marks("the real Alice")).isEqualTo(new Marks(false, false));
        assertThat(impostor.marks("I am Alice")).isEqualTo(new Marks(true, true));

        Line file = awaitFile(alice);
        // As drawn, "gnp.exe" runs left to right: its 'g' left of its last 'e' (applied, the override
        // would draw "exe.png", 'g' rightmost).
        @SuppressWarnings("unchecked")
        List<Number> lefts = (List<Number>) alice.script("""
                const text = [...document.querySelectorAll('#messages li.message .text')]
                    .find(t => t.textContent.includes('gnp.exe'));
                const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
                let node;
                while ((node = walker.nextNode()) && !node.data.includes('gnp.exe')) { }
                const at = node.data.indexOf('gnp.exe');
                const left = (i) => {
                  const range = document.createRange();
                  range.setStart(node, at + i);
                  range.setEnd(node, at + i + 1);
                  return range.getBoundingClientRect().left;
                };
                return [left(0), left(6)];
                """);
        assertThat(lefts.get(0).doubleValue()).as("x of 'g' < x of the last 'e'").isLessThan(lefts.get(1).doubleValue());
        assertThat(file.text()).isEqualTo(DISGUISED_FILE_SHOWN);
        assertThat((String) alice.script("return document.querySelector('#messages .control')?.textContent"))
                .isEqualTo("U+202E");
    }

    /** The line of the disguised file name, however the page shows it. */
    private static Line awaitFile(ChatPage page) {
        page.await("the message with 'gnp.exe'", d -> page.messages().stream().anyMatch(l -> l.text().contains("gnp.exe")));
        return page.messages().stream().filter(l -> l.text().contains("gnp.exe")).findFirst().orElseThrow();
    }
}
