package io.parley.release;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive's runtime holds the modules pom.xml lists (parley.runtime.modules), and they are
 * enough for every class in the jar as far as jdeps can tell: each module jdeps names is linked or left
 * out on purpose (parley.runtime.modules.leftOut, each with its reason in pom.xml). A new dependency
 * that needs another module fails here, at build time, instead of at an operator's first start. What
 * jdeps cannot see (service providers such as the jar file system) ReleaseArchiveIT finds by running it.
 */
class RuntimeModulesIT {

    @TempDir
    Path work;

    @Test
    void theRuntimeHoldsEveryModuleJdepsFindsInTheJarButThoseLeftOutOnPurpose() throws Exception {
        UnpackedArchive archive = UnpackedArchive.into(work);
        Set<String> chosen = modules(System.getProperty("parley.runtime.modules"));
        Set<String> leftOut = modules(System.getProperty("parley.runtime.modules.leftOut"));
        Set<String> inRuntime = archive.run(archive.path("runtime/bin/java").toString(), "--list-modules").lines()
                .map(line -> line.replaceFirst("@.*", "")).collect(Collectors.toCollection(TreeSet::new));
        Path jdeps = Path.of(System.getProperty("java.home"), "bin", "jdeps");
        Set<String> needed = modules(archive.run(jdeps.toString(), "--ignore-missing-deps", "--multi-release",
                String.valueOf(Runtime.version().feature()), "--print-module-deps",
                archive.path("lib/parley.jar").toString()).strip());

        assertThat(needed).as("modules jdeps names that pom.xml neither links nor leaves out with a reason")
                .isSubsetOf(union(chosen, leftOut));
        assertThat(inRuntime).containsAll(chosen).doesNotContainAnyElementsOf(leftOut);
    }

    private static Set<String> modules(String commaSeparated) {
        return Arrays.stream(commaSeparated.split(",")).map(String::strip).filter(m -> !m.isEmpty())
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> both = new TreeSet<>(a);
        both.addAll(b);
        return both;
    }
}
