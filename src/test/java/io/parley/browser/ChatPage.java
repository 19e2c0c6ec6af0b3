package io.parley.browser;

import org.openqa.selenium.Alert;
import org.openqa.selenium.By;
import org.openqa.selenium.NoAlertPresentException;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Parley's browser client in one headless Chromium, driven through the page's own ids
 * (#name, #room, #connect, #text, #send, #status, #transport, #messages, #rooms, #new-room, #outbox,
 * #member-list) as a person would use it. Tests call these methods, never selectors of their own, so
 * that a change of the page's markup is made here once.
 */
final class ChatPage implements AutoCloseable {

    static final Path ARTIFACTS = Path.of("target", "browser-artifacts");
    private static final Duration WAIT = Duration.ofSeconds(15);

    /** One line of #messages: its data-seq, .from and .text, as the page shows them. */
    record Line(long seq, String from, String text) { }

    /** How the page marks a line: styled as its own (.mine), and carrying the guest badge. */
    record Marks(boolean mine, boolean guest) { }

    /** One entry of the room list: joined or only listed, the one shown, its unread count. */
    record RoomEntry(String room, boolean joined, boolean active, int unread) { }

    /** One message of #outbox (written, not yet stored): its text and state (queued, sending, sent, failed). */
    record Unsent(String text, String state) { }

    /** One link in a message: its text, where it goes, its rel and target. */
    record Link(String text, String href, String rel, String target) { }

    private final Path profile;
    private final WebDriver driver;

    private ChatPage(Path profile, WebDriver driver) {
        this.profile = profile;
        this.driver = driver;
    }

    static ChatPage open(URI url) throws IOException {
        return open(url, List.of(), null);
    }

    /**
     * Fills in the join form and waits until the page is connected and caught up. A null name
     * leaves the field as the page filled it (from a token).
     */
    void join(String name, String room) {
        if (!driver.findElement(By.id("join-form")).isDisplayed()) {
            joinAnother(room); // already in a room: the form gave way to the room list's
            return;
        }
        if (name != null) {
            driver.findElement(By.id("name")).clear();
            driver.findElement(By.id("name")).sendKeys(name);
        }
        driver.findElement(By.id("room")).clear();
        driver.findElement(By.id("room")).sendKeys(room);
        driver.findElement(By.id("connect")).click();
        awaitConnected();
    }

    /** Types a message and sends it once the page lets us. */
    void say(String text) {
        await("the send button to be enabled", d -> d.findElement(By.id("send")).isEnabled());
        driver.findElement(By.id("text")).sendKeys(text);
        driver.findElement(By.id("send")).click();
    }

    /** Joins one more room on the same connection, from the room list, and waits until it has caught up. */
    void joinAnother(String room) {
        driver.findElement(By.id("new-room")).sendKeys(room);
        driver.findElement(By.id("add-room-button")).click();
        await("room '" + room + "' joined", d -> rooms().stream().anyMatch(r -> r.room().equals(room) && r.active()));
        awaitConnected();
    }

    /** Shows a joined room (a click in the room list). */
    void show(String room) {
        driver.findElement(By.cssSelector("#rooms li[data-room='" + room + "'] button.open")).click();
        await("room '" + room + "' shown", d -> rooms().stream().anyMatch(r -> r.room().equals(room) && r.active()));
    }

    /** Leaves one room (its × in the room list). */
    void leave(String room) {
        driver.findElement(By.cssSelector("#rooms li[data-room='" + room + "'] button.leave-room")).click();
    }

    List<RoomEntry> rooms() {
        @SuppressWarnings("unchecked")
        List<List<Object>> rows = (List<List<Object>>) script(
                "return [...document.querySelectorAll('#rooms li.room')].map(li => [li.dataset.room, "
                        + "li.classList.contains('joined'), li.getAttribute('aria-current') === 'true', "
                        + "Number(li.querySelector('.unread')?.textContent ?? 0)]);");
        return rows.stream()
                .map(r -> new RoomEntry((String) r.get(0), (Boolean) r.get(1), (Boolean) r.get(2), ((Number) r.get(3)).intValue()))
                .toList();
    }

    /**
     * Submits {@code count} messages "{prefix}1" … "{prefix}count" in one instant, as a script pasting
     * and pressing Send faster than any person: the same form submissions a person makes, none awaited.
     */
    void burst(String prefix, int count) {
        await("the send button to be enabled", d -> d.findElement(By.id("send")).isEnabled());
        ((JavascriptExecutor) driver).executeScript("""
                const text = document.getElementById('text');
                const form = document.getElementById('send-form');
                for (let i = 1; i <= arguments[1]; i++) {
                  text.value = arguments[0] + i;
                  form.requestSubmit();
                }
                """, prefix, count);
    }

    /** The shown room's messages not yet stored, in order. */
    List<Unsent> unsent() {
        @SuppressWarnings("unchecked")
        List<List<Object>> rows = (List<List<Object>>) script(
                "return [...document.querySelectorAll('#outbox li.outgoing')].map(li => "
                        + "[li.querySelector('.text').textContent, li.dataset.state]);");
        return rows.stream().map(r -> new Unsent((String) r.get(0), (String) r.get(1))).toList();
    }

    /** Clicks "retry" or "discard" on the first unsent message with this text. */
    void unsentAction(String text, String action) {
        ((JavascriptExecutor) driver).executeScript(
                "[...document.querySelectorAll('#outbox li.outgoing')].find(li => li.querySelector('.text').textContent"
                        + " === arguments[0]).querySelector('button.' + arguments[1]).click();", text, action);
    }

    /** The member list of the shown room: one entry per name, with "×n" after a name connected n times. */
    List<String> memberNames() {
        @SuppressWarnings("unchecked")
        List<String> names = (List<String>) script(
                "return [...document.querySelectorAll('#member-list li')].map(li => li.textContent);");
        return names;
    }

    /** The presence lines ("ada joined", "bob left") of the shown room, in order. */
    List<String> presenceLines() {
        @SuppressWarnings("unchecked")
        List<String> lines = (List<String>) script(
                "return [...document.querySelectorAll('#messages li.presence')].map(li => li.textContent);");
        return lines;
    }

    /** The day separators of the shown room, in order. */
    List<String> daySeparators() {
        @SuppressWarnings("unchecked")
        List<String> lines = (List<String>) script(
                "return [...document.querySelectorAll('#messages li.day')].map(li => li.textContent);");
        return lines;
    }

    /** The links in the message whose text is {@code text}. */
    List<Link> links(String text) {
        @SuppressWarnings("unchecked")
        List<List<Object>> rows = (List<List<Object>>) ((JavascriptExecutor) driver).executeScript(
                "const li = [...document.querySelectorAll('#messages li.message')]"
                        + ".find(l => l.querySelector('.text').textContent === arguments[0]);"
                        + "return [...li.querySelectorAll('a')].map(a => [a.textContent, a.href, a.rel, a.target]);", text);
        return rows.stream().map(r -> new Link((String) r.get(0), (String) r.get(1), (String) r.get(2), (String) r.get(3)))
                .toList();
    }

    /** The full date the page shows on hover over the time of the message with this text. */
    String dateOnHover(String text) {
        return (String) ((JavascriptExecutor) driver).executeScript(
                "return [...document.querySelectorAll('#messages li.message')]"
                        + ".find(l => l.querySelector('.text').textContent === arguments[0]).querySelector('time').title;", text);
    }

    /** Types into the message field as a person would, special keys included ({@link org.openqa.selenium.Keys}). */
    void type(CharSequence... keys) {
        driver.findElement(By.id("text")).sendKeys(keys);
    }

    /** The notice line's text ("" when hidden). */
    String notice() {
        return (String) script("const n = document.getElementById('notice'); return n.hidden ? '' : n.textContent;");
    }

    /** Why the shown room takes no message from us now (banned, timed out until when), "" when nothing holds. */
    String roomBlock() {
        return (String) script("const n = document.getElementById('room-block'); return n.hidden ? '' : n.textContent;");
    }

    /** Whether the message field and the send button take input. */
    boolean composerEnabled() {
        return driver.findElement(By.id("text")).isEnabled() && driver.findElement(By.id("send")).isEnabled();
    }

    /** The moderation actions the message with this text offers (delete, timeout-60, timeout-600, ban). */
    List<String> moderationActions(String text) {
        @SuppressWarnings("unchecked")
        List<String> actions = (List<String>) ((JavascriptExecutor) driver).executeScript(
                "const li = [...document.querySelectorAll('#messages li.message')]"
                        + ".find(l => l.querySelector('.text').textContent === arguments[0]);"
                        + "return [...li.querySelectorAll('button[data-mod]')].map(b => b.dataset.mod);", text);
        return actions;
    }

    /** Whether any message of the shown room offers moderation actions. */
    boolean offersModeration() {
        return (Boolean) script("return document.querySelectorAll('#messages button[data-mod]').length > 0;");
    }

    /** Clicks a moderation action on the message with this text and confirms it; returns the question asked. */
    String moderate(String text, String action) {
        ((JavascriptExecutor) driver).executeScript(
                "[...document.querySelectorAll('#messages li.message')].find(l => l.querySelector('.text').textContent"
                        + " === arguments[0]).querySelector('button[data-mod=\"' + arguments[1] + '\"]').click();", text, action);
        String[] question = new String[1];
        await("the confirmation", d -> {
            try {
                Alert alert = d.switchTo().alert();
                question[0] = alert.getText();
                alert.accept();
                return true;
            } catch (NoAlertPresentException e) {
                return false;
            }
        });
        return question[0];
    }

    /** Makes a private room from the room list's form ("new private room") and waits until it is joined and shown. */
    void createPrivateRoom(String room) {
        await("the private room choice", d -> d.findElement(By.id("new-room-private")).isDisplayed());
        driver.findElement(By.id("new-room")).sendKeys(room);
        driver.findElement(By.id("new-room-private")).click();
        driver.findElement(By.id("add-room-button")).click();
        await("room '" + room + "' joined", d -> rooms().stream().anyMatch(r -> r.room().equals(room) && r.active()));
        awaitConnected();
    }

    /** Whether the shown room offers its settings (kind, who writes, slow mode): owners and admins. */
    boolean settingsOffered() {
        return (Boolean) script("return !document.getElementById('room-settings').hidden"
                + " && !document.getElementById('settings-form').hidden;");
    }

    /** Whether the shown room's settings panel offers inviting members: owners, moderators and admins. */
    boolean membersOffered() {
        return driver.findElement(By.id("room-settings")).isDisplayed();
    }

    /** Invites ({@code grant} of member) or, with {@code invite} false, revokes a user id from the panel. */
    void member(String user, boolean invite) {
        script("document.getElementById('room-settings').open = true;");
        await("the members form", d -> d.findElement(By.id("member-user")).isDisplayed());
        driver.findElement(By.id("member-user")).sendKeys(user);
        driver.findElement(By.id(invite ? "member-invite" : "member-revoke")).click();
    }

    /** Joins a room the room list offers, by its Join button. */
    void joinListed(String room) {
        ((JavascriptExecutor) driver).executeScript(
                "document.querySelector('#rooms li[data-room=\"' + arguments[0] + '\"] button[data-action=\"join\"]').click();", room);
        await("room '" + room + "' joined", d -> rooms().stream().anyMatch(r -> r.room().equals(room) && r.joined()));
    }

    /** Opens the settings panel, waits for the room's record to fill it, and saves these settings. */
    void saveSettings(String kind, String write, int slowSeconds) {
        script("document.getElementById('room-settings').open = true;");
        ((JavascriptExecutor) driver).executeScript("""
                document.getElementById('settings-kind').value = arguments[0];
                document.getElementById('settings-write').value = arguments[1];
                document.getElementById('settings-slow').value = String(arguments[2]);
                document.getElementById('settings-form').requestSubmit();
                """, kind, write, slowSeconds);
    }

    /** What the message field holds now. */
    String draft() {
        return driver.findElement(By.id("text")).getDomProperty("value");
    }

    /** The length counter beside the message field, as shown ("3/2000"). */
    String counter() {
        return driver.findElement(By.id("counter")).getText();
    }

    /** Scrolls the messages to the top, where older ones are asked for. */
    void scrollToTop() {
        script("const list = document.getElementById('messages'); list.scrollTop = 0;"
                + "list.dispatchEvent(new Event('scroll'));");
    }

    /** Whether the newest line of the shown room is within the visible part of the message list and the window. */
    boolean newestInView() {
        return (Boolean) script("""
                const list = document.getElementById('messages');
                const last = list.lastElementChild;
                if (!last) return true;
                const box = list.getBoundingClientRect();
                const line = last.getBoundingClientRect();
                const bottom = window.visualViewport ? window.visualViewport.height : window.innerHeight;
                return line.bottom <= box.bottom + 1 && line.top >= box.top - 1 && line.bottom <= bottom + 1;
                """);
    }

    boolean joinFormShown() {
        return driver.findElement(By.id("join-form")).isDisplayed();
    }

    /** Reloads the page, as a person pressing F5. */
    void reload() {
        driver.navigate().refresh();
    }

    /** Resizes the browser window, e.g. to a phone's 390x844. */
    void resize(int width, int height) {
        driver.manage().window().setSize(new Dimension(width, height));
    }

    /** The account area: the signed-in name shown, whether "Sign in" is offered, whether "Sign out" is. */
    record Account(String name, boolean signIn, boolean signOut) { }

    Account account() {
        @SuppressWarnings("unchecked")
        List<Object> a = (List<Object>) script("return [document.getElementById('account-name').textContent, "
                + "!document.getElementById('sign-in').hidden, !document.getElementById('sign-out').hidden];");
        return new Account((String) a.get(0), (Boolean) a.get(1), (Boolean) a.get(2));
    }

    void awaitConnected() {
        await("status 'connected'", d -> "connected".equals(d.findElement(By.id("status")).getAttribute("data-state")));
    }

    void awaitTransport(String transport) {
        await("transport '" + transport + "'", d -> transport.equals(transport()));
    }

    /** Waits until a line with this text is shown and returns it. */
    Line awaitText(String text) {
        await("a message '" + text + "'", d -> messages().stream().anyMatch(l -> l.text().equals(text)));
        return messages().stream().filter(l -> l.text().equals(text)).findFirst().orElseThrow();
    }

    List<Line> messages() {
        @SuppressWarnings("unchecked")
        List<List<Object>> rows = (List<List<Object>>) script(
                "return [...document.querySelectorAll('#messages li.message')].map(li => "
                        + "[li.dataset.seq, li.querySelector('.from').textContent, li.querySelector('.text').textContent]);");
        return rows.stream()
                .map(r -> new Line(Long.parseLong((String) r.get(0)), (String) r.get(1), (String) r.get(2)))
                .toList();
    }

    /** How the page marks the first line whose text is {@code text}. */
    Marks marks(String text) {
        @SuppressWarnings("unchecked")
        List<Boolean> marks = (List<Boolean>) ((JavascriptExecutor) driver).executeScript(
                "const li = [...document.querySelectorAll('#messages li.message')]"
                        + ".find(l => l.querySelector('.text').textContent === arguments[0]);"
                        + "return [li.classList.contains('mine'), li.querySelector('.badge')?.textContent === 'guest'];", text);
        return new Marks(marks.get(0), marks.get(1));
    }

    String transport() {
        return driver.findElement(By.id("transport")).getAttribute("data-transport");
    }

    String transportText() {
        return driver.findElement(By.id("transport")).getText();
    }

    String nameField() {
        return driver.findElement(By.id("name")).getDomProperty("value");
    }

    String status() {
        return driver.findElement(By.id("status")).getText();
    }

    Object script(String javascript) {
        return ((JavascriptExecutor) driver).executeScript(javascript);
    }

    /** From now on, drives the chat page shown in the frame with this id, in the page opened. */
    void enterFrame(String id) {
        await("the frame '" + id + "'", d -> {
            d.switchTo().defaultContent();
            d.switchTo().frame(id);
            return d.findElements(By.id("connect")).size() == 1;
        });
    }

    /** Runs a script in the page opened, around the frame the chat is in. */
    Object scriptAtTop(String javascript, String frameToReturnTo) {
        driver.switchTo().defaultContent();
        try {
            return script(javascript);
        } finally {
            driver.switchTo().frame(frameToReturnTo);
        }
    }

    void await(String what, Predicate<WebDriver> condition) {
        await(what, WAIT, condition);
    }

    /** As {@link #await(String, Predicate)}, for a condition that takes longer than the usual wait. */
    void await(String what, Duration wait, Predicate<WebDriver> condition) {
        try {
            new WebDriverWait(driver, wait, Duration.ofMillis(50)).until(condition::test);
        } catch (TimeoutException e) {
            throw new AssertionError("waited " + wait.toSeconds() + " s for " + what + "; the page shows status '"
                    + status() + "', transport '" + transport() + "', messages " + messages()
                    + "; its console:\n" + console(), e);
        }
    }

    /** What the page logged to its console since the last call. */
    String console() {
        return driver.manage().logs().get(LogType.BROWSER).getAll().stream()
                .map(entry -> Instant.ofEpochMilli(entry.getTimestamp()) + " " + entry.getLevel() + " " + entry.getMessage())
                .collect(Collectors.joining("\n"));
    }

    /** Saves what the page looks like now as target/browser-artifacts/{name}.png. */
    void screenshot(String name) throws IOException {
        Files.createDirectories(ARTIFACTS);
        byte[] png = ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES);
        Files.write(ARTIFACTS.resolve(name + ".png"), png);
    }

    @Override
    public void close() {
        try {
            driver.quit();
        } finally {
            delete(profile);
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Opens {@code url} in a Chromium started with more command-line arguments, such as
     * {@link Chromium#trusting} for a page served with a test's own certificate.
     */
    static ChatPage open(URI url, List<String> chromiumArguments) throws IOException {
        return open(url, chromiumArguments, null);
    }

    /**
     * As {@link #open(URI, List)}, with {@code beforeEachDocument} (if not null) run in every document
     * the browser loads before the page's own scripts: {@link #FORCE_LONG_POLLING}, {@link #COUNT_WEBSOCKETS}.
     */
    static ChatPage open(URI url, List<String> chromiumArguments, String beforeEachDocument) throws IOException {
        Path profile = Files.createTempDirectory("parley-chromium-");
        ChatPage page;
        try {
            ChromeDriver driver = Chromium.start(profile, chromiumArguments);
            page = new ChatPage(profile, driver);
            if (beforeEachDocument != null) {
                driver.executeCdpCommand("Page.addScriptToEvaluateOnNewDocument", Map.of("source", beforeEachDocument));
            }
        } catch (RuntimeException e) {
            delete(profile);
            throw e;
        }
        page.driver.get(url.toString());
        return page;
    }

    /**
     * A browser whose WebSockets all fail to open (they ask for a path the server answers 404): the page
     * falls back to long polling, as behind a proxy that does not pass the upgrade on, and its tries at
     * moving back fail too, while other pages of the same server stay on WebSocket.
     */
    static final String FORCE_LONG_POLLING = """
            const RealWebSocket = window.WebSocket;
            window.WebSocket = class extends RealWebSocket {
              constructor(url, protocols) { super(String(url).replace('/chat', '/no-websocket-here'), protocols); }
            };""";

    /** Counts the WebSockets the page opens, in {@code window.parleyTestSockets} (see {@link #webSocketsOpened}). */
    static final String COUNT_WEBSOCKETS = """
            window.parleyTestSockets = 0;
            const CountedWebSocket = window.WebSocket;
            window.WebSocket = class extends CountedWebSocket {
              constructor(url, protocols) { super(url, protocols); window.parleyTestSockets += 1; }
            };""";

    /** How many WebSockets this document has opened, for a page opened with {@link #COUNT_WEBSOCKETS}. */
    long webSocketsOpened() {
        return ((Number) script("return window.parleyTestSockets;")).longValue();
    }

    /**
     * On the sign-in page (/signin): signs up with a new account and waits until the main page it goes on
     * to shows that account's name.
     */
    void signUp(String name, String password) {
        await("the sign-up form", d -> d.findElement(By.id("signup-form")).isDisplayed());
        WebElement form = driver.findElement(By.id("signup-form"));
        form.findElement(By.name("name")).sendKeys(name);
        form.findElement(By.name("password")).sendKeys(password);
        form.findElement(By.tagName("button")).click();
        await("the main page, signed in as " + name, d -> URI.create(d.getCurrentUrl()).getPath().equals("/")
                && d.findElement(By.id("account-name")).getText().equals(name));
    }

    /** Clicks "Sign out" and waits until the reloaded page offers "Sign in". */
    void signOut() {
        driver.findElement(By.id("sign-out")).click();
        await("the page signed out, offering 'Sign in'", d -> account().signIn());
    }
}
