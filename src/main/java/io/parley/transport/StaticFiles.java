package io.parley.transport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The browser client: every file of the classpath folder {@code web/}, read into memory once at
 * start-up, so that serving one never touches the disk from an event loop. The whole client is a few
 * kilobytes.
 */
final class StaticFiles {

    /** A file ready to send. */
    record File(String contentType, byte[] body) { }

    private final Map<String, File> files;

    private StaticFiles(Map<String, File> files) {
        this.files = Map.copyOf(files);
    }

    static StaticFiles load() {
        URL root = StaticFiles.class.getClassLoader().getResource("web/index.html");
        if (root == null) {
            throw new IllegalStateException("the browser client web/index.html is missing from the classpath");
        }
        try {
            URI uri = root.toURI();
            if (uri.getScheme().equals("jar")) {
                try (FileSystem jar = FileSystems.newFileSystem(uri, Map.of())) {
                    return new StaticFiles(read(jar.provider().getPath(uri).getParent()));
                }
            }
            return new StaticFiles(read(Path.of(uri).getParent()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the browser client", e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, File> read(Path dir) throws IOException {
        Map<String, File> files = new HashMap<>();
        try (Stream<Path> paths = Files.list(dir)) {
            for (Path p : paths.filter(Files::isRegularFile).toList()) {
                String name = p.getFileName().toString();
                files.put("/" + name, new File(contentType(name), Files.readAllBytes(p)));
            }
        }
        files.put("/", files.get("/index.html"));
        // The sign-in page, at the address people type and links name.
        if (files.containsKey("/signin.html")) {
            files.put("/signin", files.get("/signin.html"));
        }
        return files;
    }

    /** The file at an exact request path, or null. Nothing outside {@code web/} is reachable. */
    File get(String path) {
        return files.get(path);
    }

    private static String contentType(String name) {
        String ext = name.substring(name.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        return switch (ext) {
            case "html" -> "text/html; charset=utf-8";
            case "js", "mjs" -> "text/javascript; charset=utf-8";
            case "css" -> "text/css; charset=utf-8";
            case "svg" -> "image/svg+xml";
            case "png" -> "image/png";
            case "ico" -> "image/x-icon";
            case "json" -> "application/json";
            default -> "application/octet-stream";
        };
    }
}
