package io.parley.auth;

import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The look-alike keys ({@link DisplayNames#skeletons}) of every registered account's name, in memory, so
 * that a guest's hello or send is checked without touching the database. A guest may not take a name
 * that shares a key with one of these.
 *
 * <p>Kept current two ways: an account added through this node is {@link #add}ed at once; and the
 * whole set is {@link #replaceAll replaced} from the database every few seconds by the account
 * service's refresher, which brings in accounts added on other nodes or by {@code parley user add}, and
 * drops removed ones.
 *
 * <p>Threads: any. Reads are lock-free lookups in a concurrent set; a refresh swaps in a new set.
 */
public final class RegisteredNames {

    private volatile Set<String> keys = ConcurrentHashMap.newKeySet();
    /** Keys {@link #add}ed here, and when ({@link System#nanoTime}): kept until a refresh has read them back. */
    private final ConcurrentHashMap<String, Long> added = new ConcurrentHashMap<>();

    /** Whether a name shares a look-alike key with a registered account's. */
    public boolean taken(List<String> skeletons) {
        Set<String> current = keys;
        for (String k : skeletons) {
            if (current.contains(k)) {
                return true;
            }
        }
        return false;
    }

    /** An account was just registered under {@code name}. */
    public void add(String name) {
        long now = System.nanoTime();
        for (String k : DisplayNames.skeletons(name)) {
            added.put(k, now);
            keys.add(k);
        }
    }

    /**
     * Everything the database held when a read that began at {@code readStarted} ({@link System#nanoTime})
     * saw it. Keys {@link #add}ed since that read began are kept: the read may have missed them.
     * Called by one refresher thread at a time.
     */
    public void replaceAll(Collection<String> fromDatabase, long readStarted) {
        Set<String> fresh = ConcurrentHashMap.newKeySet(fromDatabase.size() * 2 + 16);
        fresh.addAll(fromDatabase);
        added.entrySet().removeIf(e -> e.getValue() - readStarted < 0);
        fresh.addAll(added.keySet());
        keys = fresh;
    }
}
