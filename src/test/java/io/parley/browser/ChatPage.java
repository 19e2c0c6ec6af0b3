package io.parley.browser;

import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
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
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Parley's browser client in one headless Chromium, driven through the page's own ids
 * (#name, #room, #connect, #text, #send, #status, #transport, #messages) as a person would use it.
 */
final class ChatPage implements AutoCloseable {

    static final Path ARTIFACTS = Path.of("target", "browser-artifacts");
    private static final Duration WAIT = Duration.ofSeconds(15);

    /** One line of #messages: its data-seq, .from and .text, as the page shows them. */
    record Line(long seq, String from, String text) { }

    /** How the page marks a line: styled as its own (.mine), and carrying the guest badge. */
    record Marks(boolean mine, boolean guest) { }

    private final Path profile;
    private final WebDriver driver;

    private ChatPage(Path profile, WebDriver driver) {
        this.profile = profile;
        this.driver = driver;
    }

    static ChatPage open(URI url) throws IOException {
        Path profile = Files.createTempDirectory("parley-chromium-");
        ChatPage page;
        try {
            page = new ChatPage(profile, Chromium.start(profile));
        } catch (RuntimeException e) {
            delete(profile);
            throw e;
        }
        page.driver.get(url.toString());
        return page;
    }

    /**
     * Fills in the join form and waits until the page is connected and caught up. A null name
     * leaves the field as the page filled it (from a token).
     */
    void join(String name, String room) {
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
        try {
            new WebDriverWait(driver, WAIT, Duration.ofMillis(50)).until(condition::test);
        } catch (TimeoutException e) {
            throw new AssertionError("waited " + WAIT.toSeconds() + " s for " + what + "; the page shows status '"
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
        Path profile = Files.createTempDirectory("parley-chromium-");
        ChatPage page;
        try {
            page = new ChatPage(profile, Chromium.start(profile, chromiumArguments));
        } catch (RuntimeException e) {
            delete(profile);
            throw e;
        }
        page.driver.get(url.toString());
        return page;
    }
}
