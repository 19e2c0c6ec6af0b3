package io.parley.engine;

import io.parley.store.HistoryStore;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The single-node engine against the broker contract, on a real SQLite file. */
class LocalBrokerTest extends BrokerContract {

    private final List<HistoryStore> stores = new ArrayList<>();

    @Override
    protected Broker start(Path dir, BroadcastEncoder encoder, long retainMessages, int presenceNamesUpTo,
                           long graceMillis) {
        HistoryStore store = HistoryStore.openSqlite(dir, false);
        stores.add(store);
        return new LocalBroker(store, encoder, 50, retainMessages, presenceNamesUpTo, graceMillis, "contract",
                (thread, cause) -> cause.printStackTrace());
    }

    @Override
    protected void stopped() {
        stores.forEach(HistoryStore::close);
        stores.clear();
    }
}
