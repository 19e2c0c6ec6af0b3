package io.parley.engine.cluster;

import io.lettuce.core.RedisURI;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Where Redis is, as {@code --redis-url} gives it: one standalone Redis, or the seeds of a Redis
 * Cluster.
 *
 * <ul>
 *   <li>{@code redis://host:port} (or {@code redis://:password@host:port}, {@code redis://user:password@...},
 *       {@code rediss://...} for TLS): one standalone Redis.</li>
 *   <li>Several such URLs separated by commas, {@code redis://a:7000,redis://b:7001}: a Redis Cluster,
 *       those being seeds (any reachable one is enough; the client learns the topology from it).</li>
 *   <li>{@code redis-cluster://host:port} or {@code rediss-cluster://...}: a Redis Cluster given by a single
 *       seed.</li>
 * </ul>
 * Every URL of one list uses the same scheme: a cluster is either all TLS or not at all.
 */
public record RedisAddress(List<RedisURI> uris, boolean cluster) {

    /** How long connecting to one node may take before that attempt fails. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(3);

    public RedisAddress {
        uris = List.copyOf(uris);
    }

    /** Parses {@code --redis-url}; throws {@link IllegalArgumentException} with a reason. */
    public static RedisAddress parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty Redis URL");
        }
        List<RedisURI> uris = new ArrayList<>();
        boolean cluster = false;
        String scheme = null;
        for (String part : text.split(",")) {
            String url = part.strip();
            String plain = url;
            if (url.startsWith("redis-cluster://")) {
                plain = "redis://" + url.substring("redis-cluster://".length());
                cluster = true;
            } else if (url.startsWith("rediss-cluster://")) {
                plain = "rediss://" + url.substring("rediss-cluster://".length());
                cluster = true;
            } else if (!url.startsWith("redis://") && !url.startsWith("rediss://")) {
                throw new IllegalArgumentException("not a Redis URL (redis://, rediss://, redis-cluster://): " + redact(url));
            }
            String thisScheme = plain.substring(0, plain.indexOf(':'));
            if (scheme != null && !scheme.equals(thisScheme)) {
                throw new IllegalArgumentException("mixed redis:// and rediss:// in one list");
            }
            scheme = thisScheme;
            RedisURI uri;
            try {
                uri = RedisURI.create(plain);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("bad Redis URL " + redact(url) + ": " + e.getMessage());
            }
            uri.setTimeout(CONNECT_TIMEOUT);
            uris.add(uri);
        }
        return new RedisAddress(uris, cluster || uris.size() > 1);
    }

    /** A URL without its password, for messages and logs. */
    static String redact(String url) {
        return url.replaceAll("//[^@/]*@", "//***@");
    }

    @Override
    public String toString() {
        List<String> shown = new ArrayList<>();
        for (RedisURI u : uris) {
            shown.add((u.isSsl() ? "rediss://" : "redis://") + u.getHost() + ":" + u.getPort());
        }
        return (cluster ? "cluster " : "") + String.join(",", shown);
    }
}
