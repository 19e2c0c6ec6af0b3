package io.parley.browser;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * The Chromium pages (and servers, relays) of one browser test, as a JUnit extension: each test is
 * skipped, with the reason, where Chromium is missing; after it, every page it opened leaves a
 * screenshot in target/browser-artifacts/ ({test}-{n}.png), then pages and resources close, the
 * last opened first. Register with {@code @RegisterExtension final Pages pages = new Pages();}.
 */
final class Pages implements BeforeEachCallback, AfterEachCallback {

    private final List<ChatPage> open = new ArrayList<>();
    private final List<AutoCloseable> closeAfter = new ArrayList<>();

    @Override
    public void beforeEach(ExtensionContext context) {
        Chromium.assumeInstalled();
    }

    ChatPage open(URI url) throws IOException {
        ChatPage page = ChatPage.open(url);
        open.add(page);
        return page;
    }

    /** A page at {@code url} with a script run before each document's own ({@link ChatPage#FORCE_LONG_POLLING}). */
    ChatPage open(URI url, String beforeEachDocument) throws IOException {
        ChatPage page = ChatPage.open(url, List.of(), beforeEachDocument);
        open.add(page);
        return page;
    }

    /** A page at {@code url} that has joined {@code room} as the guest {@code name}, caught up. */
    ChatPage joined(URI url, String name, String room) throws IOException {
        ChatPage page = open(url);
        page.join(name, room);
        return page;
    }

    <T extends AutoCloseable> T closedAfter(T resource) {
        closeAfter.add(resource);
        return resource;
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        try {
            for (int i = 0; i < open.size(); i++) {
                open.get(i).screenshot(context.getRequiredTestMethod().getName() + "-" + (i + 1));
            }
        } finally {
            open.forEach(ChatPage::close);
            open.clear();
            for (AutoCloseable c : closeAfter.reversed()) {
                c.close();
            }
            closeAfter.clear();
        }
    }
}
