package io.parley.chat;

import io.parley.store.AccountStore;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A real {@link AccountStore} (SQLite or PostgreSQL) watched from outside, for the tests of
 * {@link Sanctions}' bounds: every call goes to the real store and does what it does; this only counts
 * the full reads of the bans ({@code sanctions}), and can hold the next such read (after it has read,
 * so that what it read is already stale) or every write of a sanction (before it writes) until the test
 * lets go. A decorator, not a mock: nothing is answered in the store's place. Its {@link Hold} serves
 * {@link ObservedRoomStore} too.
 *
 * <p>Threads: any; the held call waits on the thread that made it (the sanctions worker).
 */
final class ObservedAccountStore implements InvocationHandler {

    private final AccountStore real;
    private final AccountStore store;
    private final AtomicInteger reads = new AtomicInteger();
    private final AtomicReference<Hold> nextRead = new AtomicReference<>();
    private volatile Hold writes;

    private ObservedAccountStore(AccountStore real) {
        this.real = real;
        this.store = (AccountStore) Proxy.newProxyInstance(AccountStore.class.getClassLoader(),
                new Class<?>[] {AccountStore.class}, this);
    }

    static ObservedAccountStore of(AccountStore real) {
        return new ObservedAccountStore(real);
    }

    /** The store to hand to the code under test. */
    AccountStore store() {
        return store;
    }

    /** Full reads of the bans and timeouts so far. */
    int reads() {
        return reads.get();
    }

    /** Holds the next full read of the bans, once it has read, until {@link Hold#release}. */
    Hold holdNextRead() {
        Hold hold = new Hold();
        nextRead.set(hold);
        return hold;
    }

    /** Holds every write of a ban or timeout, before it writes, until {@link Hold#release}. */
    Hold holdWrites() {
        Hold hold = new Hold();
        writes = hold;
        return hold;
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        if (method.getName().equals("putSanction")) {
            Hold hold = writes;
            if (hold != null) {
                hold.hold();
            }
        }
        Object result;
        try {
            result = method.invoke(real, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
        if (method.getName().equals("sanctions")) {
            reads.incrementAndGet();
            Hold hold = nextRead.getAndSet(null);
            if (hold != null) {
                hold.hold();
            }
        }
        return result;
    }

    /** A call held until the test lets it go. */
    static final class Hold {
        private final CountDownLatch held = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);

        /** Waits until a call is held here. */
        void awaitHeld() throws InterruptedException {
            if (!held.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("no call reached the hold within 10 s");
            }
        }

        void release() {
            released.countDown();
        }

        void hold() throws InterruptedException {
            held.countDown();
            if (!released.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the test never let the held call go");
            }
        }
    }
}
