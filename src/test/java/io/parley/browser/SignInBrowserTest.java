package io.parley.browser;

import io.parley.testing.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sign-in page (GET /signin) in a real Chromium: sign up, sign out, a wrong password's message,
 * sign in; each time the page goes on to / and the session cookie it left gets a token there
 * ({@code POST /api/session/token} from the page answers 200), while page script cannot read the cookie.
 * Screenshots go to target/browser-artifacts/.
 */
class SignInBrowserTest {

    private static final Path ARTIFACTS = Path.of("target", "browser-artifacts");

    @TempDir
    Path dir;
    private TestServer server;
    private ChromeDriver browser;

    @BeforeEach
    void start() throws Exception {
        Chromium.assumeInstalled();
        server = TestServer.start(dir.resolve("data"), c -> c.withAccess(c.access().withAccounts(
                c.access().accounts().withOpenSignup(true))));
        browser = Chromium.start(dir.resolve("profile"));
    }

    @AfterEach
    void stop() {
        try {
            if (browser != null) {
                browser.quit();
            }
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }

    private URI url(String path) {
        return server.httpUri(path);
    }

    private WebDriverWait waiting() {
        return new WebDriverWait(browser, Duration.ofSeconds(15));
    }

    private void fill(String form, String name, String password) {
        WebElement f = browser.findElement(By.id(form));
        f.findElement(By.name("name")).clear();
        f.findElement(By.name("name")).sendKeys(name);
        f.findElement(By.name("password")).clear();
        f.findElement(By.name("password")).sendKeys(password);
        f.findElement(By.tagName("button")).click();
    }

    private void awaitChatPage() {
        waiting().until(d -> URI.create(d.getCurrentUrl()).getPath().equals("/"));
    }

    /** What {@code POST /api/session/token} answers the page, as {status, name}. */
    @SuppressWarnings("unchecked")
    private Map<String, Object> tokenFromPage() {
        return (Map<String, Object>) browser.executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                fetch('/api/session/token', {method: 'POST', credentials: 'same-origin'})
                  .then(r => r.json().then(b => done({status: r.status, name: b.name || null, code: b.code || null})))
                  .catch(e => done({status: -1, name: String(e)}));""");
    }

    private void screenshot(String name) throws Exception {
        Files.createDirectories(ARTIFACTS);
        Files.write(ARTIFACTS.resolve(name + ".png"), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
    }

    @Test
    void signUpSignOutAndSignInThroughThePageEachLeaveACookieThatGetsTokens() throws Exception {
        browser.get(url("/signin").toString());
        waiting().until(d -> d.findElement(By.id("signup-form")).isDisplayed());
        screenshot("signin-page");

        fill("signup-form", "Olga", "correct horse");
        awaitChatPage();
        Map<String, Object> afterSignUp = tokenFromPage();
        assertThat(afterSignUp).containsEntry("status", 200L).containsEntry("name", "Olga");
        assertThat((String) browser.executeScript("return document.cookie")).as("HttpOnly")
                .doesNotContain("parley_session");

        browser.executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                fetch('/api/session', {method: 'DELETE', credentials: 'same-origin'}).then(r => done(r.status));""");
        assertThat(tokenFromPage()).containsEntry("status", 401L).containsEntry("code", "unauthorized");

        browser.get(url("/signin?next=/%3Froom%3Dlobby").toString());
        fill("signin-form", "olga", "wrong horse");
        WebElement error = browser.findElement(By.id("signin-error"));
        waiting().until(d -> error.isDisplayed());
        assertThat(error.getText()).isEqualTo("Wrong name or password.");
        screenshot("signin-wrong-password");

        fill("signin-form", "olga", "correct horse");
        waiting().until(d -> URI.create(d.getCurrentUrl()).getPath().equals("/"));
        assertThat(URI.create(browser.getCurrentUrl()).getQuery()).as("the next path").isEqualTo("room=lobby");
        assertThat(tokenFromPage()).containsEntry("status", 200L).containsEntry("name", "Olga");
    }

    @Test
    void aTakenNameIsExplainedAndANextOnAnotherSiteIsIgnored() throws Exception {
        browser.get(url("/signin").toString());
        waiting().until(d -> d.findElement(By.id("signup-form")).isDisplayed());
        fill("signup-form", "Pia", "correct horse");
        awaitChatPage();

        browser.manage().deleteAllCookies();
        browser.get(url("/signin?next=//evil.example/").toString());
        waiting().until(d -> d.findElement(By.id("signup-form")).isDisplayed());
        fill("signup-form", "P\u0456a", "another horse"); // Cyrillic і
        WebElement error = browser.findElement(By.id("signup-error"));
        waiting().until(d -> error.isDisplayed());
        assertThat(error.getText()).contains("taken");

        fill("signin-form", "pia", "correct horse");
        waiting().until(d -> URI.create(d.getCurrentUrl()).getPath().equals("/"));
        assertThat(URI.create(browser.getCurrentUrl()).getHost()).isEqualTo("127.0.0.1");
    }

    @Test
    void aServerThatTakesNoSignUpsShowsOnlyTheSignInForm() throws Exception {
        try (TestServer closed = TestServer.start(dir.resolve("closed"))) {
            browser.get(closed.httpUri("/signin").toString());
            waiting().until(d -> d.findElement(By.id("signin-form")).isDisplayed());
            // The page asks GET /api/accounts first; give that answer time to arrive before judging.
            waiting().until(d -> (Boolean) ((ChromeDriver) d).executeAsyncScript("""
                    const done = arguments[arguments.length - 1];
                    fetch('/api/accounts').then(r => r.json()).then(b => done(b.openSignup === false));"""));
            waiting().until(d -> !d.findElement(By.id("signup-form")).isDisplayed());
            screenshot("signin-closed");
        }
    }
}
