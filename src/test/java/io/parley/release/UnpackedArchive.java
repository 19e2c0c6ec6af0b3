package io.parley.release;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The release archive made by {@code package} ({@code target/parley-<version>-linux-x64.tar.gz}, named
 * to failsafe by pom.xml), unpacked with tar as an operator would, and its commands run with no
 * {@code java} anywhere on their PATH and no JAVA_HOME: only the archive's own runtime can run them.
 * This machine has a /usr/bin/java (17, too old for Parley), so a plain PATH would prove nothing.
 * Used by the *IT classes of this package, from the test thread.
 */
final class UnpackedArchive {

    /** The commands bin/parley runs besides java: everything else it does is the shell's own. */
    private static final List<String> LAUNCHER_TOOLS = List.of("dirname", "readlink");

    private final Path work;
    private final Path home;
    private final Path tools;

    private UnpackedArchive(Path work, Path home, Path tools) {
        this.work = work;
        this.home = home;
        this.tools = tools;
    }

    /** Unpacks the archive into {@code work}, beside a directory of links to the launcher's tools. */
    static UnpackedArchive into(Path work) throws Exception {
        Path archive = Path.of(System.getProperty("parley.archive", "(run by failsafe: pom.xml names the archive)"));
        assertThat(archive).as("the release archive made by package (not with -Dparley.archive.skip)")
                .isRegularFile();
        Process tar = new ProcessBuilder("tar", "xzf", archive.toString(), "-C", work.toString())
                .redirectErrorStream(true).start();
        String out = new String(tar.getInputStream().readAllBytes());
        assertThat(tar.waitFor(60, TimeUnit.SECONDS) && tar.exitValue() == 0).as("tar: " + out).isTrue();

        Path tools = Files.createDirectory(work.resolve("path"));
        for (String tool : LAUNCHER_TOOLS) {
            Path found = Stream.of("/usr/bin", "/bin").map(dir -> Path.of(dir, tool)).filter(Files::isExecutable)
                    .findFirst().orElseThrow(() -> new AssertionError("no " + tool + " in /usr/bin or /bin"));
            Files.createSymbolicLink(tools.resolve(tool), found);
        }
        return new UnpackedArchive(work, work.resolve(System.getProperty("parley.archive.directory")), tools);
    }

    /** A path in the unpacked archive, e.g. {@code bin/parley}. */
    Path path(String relative) {
        return home.resolve(relative);
    }

    /** The directory on every command's PATH: links to the launcher's tools, and whatever a test adds. */
    Path tools() {
        return tools;
    }

    /** The environment of every command started here: nothing inherited, PATH without java. */
    Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", tools.toString());
        env.put("HOME", work.toString());
        env.put("LANG", "C.UTF-8");
        return env;
    }

    /** The environment file's VARIABLE=value lines, as systemd reads them: comments and blank lines skipped. */
    Map<String, String> settingsIn(String environmentFile) throws IOException {
        Map<String, String> settings = new LinkedHashMap<>();
        for (String line : Files.readAllLines(path(environmentFile))) {
            String setting = line.strip();
            if (!setting.isEmpty() && !setting.startsWith("#")) {
                int eq = setting.indexOf('=');
                settings.put(setting.substring(0, eq), setting.substring(eq + 1));
            }
        }
        return settings;
    }

    static ProcessBuilder command(Map<String, String> env, String... command) {
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().clear();
        builder.environment().putAll(env);
        return builder;
    }

    /** Starts a command with its output and errors in {@code log}. */
    static Process start(Map<String, String> env, Path log, String... command) throws IOException {
        return command(env, command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Runs a command to its end, expecting exit code 0; its output. */
    String run(String... command) throws Exception {
        Path out = Files.createTempFile(work, "run", ".out");
        Process process = start(environment(), out, command);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).as(String.join(" ", command)).isTrue();
        String said = Files.readString(out);
        assertThat(process.exitValue()).as(String.join(" ", command) + ": " + said).isZero();
        return said;
    }
}
