package io.parley.browser;

import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The machine's own Chromium and chromedriver (Debian: {@code apt-get install chromium
 * chromium-driver}), found on the PATH. Selenium is given both by path, so Selenium Manager never
 * runs and nothing is downloaded at test time. Without them the browser tests are skipped, not failed.
 */
final class Chromium {

    static final Path BROWSER = onPath("chromium", "chromium-browser");
    static final Path DRIVER = onPath("chromedriver");
    /**
     * Selenium looks for DevTools bindings matching the browser's version and warns when it has none.
     * These tests use WebDriver only, so the warning says nothing; kept here so the level sticks.
     */
    private static final Logger CDP_LOOKUP = Logger.getLogger("org.openqa.selenium.devtools.CdpVersionFinder");

    static {
        CDP_LOOKUP.setLevel(Level.SEVERE);
    }

    private Chromium() {
    }

    static void assumeInstalled() {
        Assumptions.assumeTrue(BROWSER != null && DRIVER != null,
                "Browser tests skipped: no chromium and chromedriver on the PATH "
                        + "(Debian: apt-get install chromium chromium-driver).");
    }

    /**
     * A new headless browser with a fresh profile in {@code profile}. Each gets its own chromedriver
     * process: quitting a ChromeDriver stops the service it was started with.
     */
    static ChromeDriver start(Path profile) {
        return start(profile, List.of());
    }

    /**
     * As {@link #start(Path)}, with more command-line arguments: {@link #trusting} for a page served
     * over TLS with a test's own certificate.
     */
    static ChromeDriver start(Path profile, List<String> moreArguments) {
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort()
                .build();
        ChromeOptions options = new ChromeOptions()
                .setBinary(BROWSER.toFile())
                .addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--window-size=900,700", "--user-data-dir=" + profile)
                .addArguments(moreArguments);
        // Keeps the page's console, so that a failed wait can say what the page logged.
        options.setCapability("goog:loggingPrefs", Map.of("browser", "ALL"));
        return new ChromeDriver(service, options);
    }

    /**
     * The argument that makes Chromium accept a certificate with this public key (the base64 SHA-256
     * of its SubjectPublicKeyInfo), and only that one: a narrower hole than
     * {@code --ignore-certificate-errors}, so a test still fails on any other certificate error.
     * Chromium honours it only with {@code --user-data-dir}, which {@link #start} always gives.
     */
    static String trusting(String keyHash) {
        return "--ignore-certificate-errors-spki-list=" + keyHash;
    }

    private static Path onPath(String... names) {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String name : names) {
            Path found = Stream.of(path.split(File.pathSeparator))
                    .filter(dir -> !dir.isEmpty())
                    .map(dir -> Path.of(dir, name))
                    .filter(Files::isExecutable)
                    .findFirst().orElse(null);
            if (found != null) {
                return found;
            }
        }
        return null;
    }
}
