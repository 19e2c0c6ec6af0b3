package io.parley.transport;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What happens when the server meets an error it cannot recover from: an {@link OutOfMemoryError}
 * anywhere, or the death of a thread it cannot run without (the engine's sequencer, a history reader,
 * an acceptor or worker event loop). A server that goes on after one of these only looks alive: an
 * OutOfMemoryError once killed the sequencer and the acceptor, and the process answered nothing, yet
 * still held its port and ignored SIGTERM.
 *
 * <p>{@link #halting()} (what {@code parley serve} uses) logs one line and ends the process with
 * {@link #EXIT_CODE} at once, with {@link Runtime#halt}: no shutdown hooks, which could wait on the dead
 * thread forever. A supervisor then restarts it. {@link #logging()} (a server embedded in a test or
 * another program) only logs, and leaves the decision to its host.
 *
 * <p>Who tells it: the engine's sequencer and history readers report their own death, and an
 * OutOfMemoryError in a read or in a delivery task it posts to an event loop (the engine knows only the
 * JDK's {@link Thread.UncaughtExceptionHandler}); {@link ParleyServer} watches the event loops'
 * termination while it is not closing; {@link ChatSocket} and {@link #watch()} on the listening socket
 * pass on what Netty catches; {@link #installAsDefault()} covers any other thread that dies of an
 * OutOfMemoryError. -XX:+ExitOnOutOfMemoryError would be simpler but cannot be set from inside a running
 * JVM, and {@code java -jar parley.jar serve} carries no JVM options.
 *
 * <p>Threads: any; it holds no lock.
 */
public final class FatalErrors implements Thread.UncaughtExceptionHandler {

    /** The exit code of a fatal error (EX_SOFTWARE of sysexits.h): restart me. */
    public static final int EXIT_CODE = 70;

    private static final Logger log = LoggerFactory.getLogger(FatalErrors.class);

    private final boolean halt;
    /**
     * Memory held back for the one line a halting instance logs: out of memory, the line would
     * otherwise often fail to be written. Dropped when the line is.
     */
    private volatile byte[] reserve;
    private final AtomicBoolean fired = new AtomicBoolean();
    private final ChannelHandler watch = new Watch();

    private FatalErrors(boolean halt) {
        this.halt = halt;
        this.reserve = halt ? new byte[1 << 20] : null;
    }

    /** Ends the process on a fatal error: for {@code parley serve}. */
    public static FatalErrors halting() {
        return new FatalErrors(true);
    }

    /** Only logs a fatal error: for a server embedded in a program that decides for itself. */
    public static FatalErrors logging() {
        return new FatalErrors(false);
    }

    /**
     * Makes this the handler of every thread that dies without one of its own, so that an
     * OutOfMemoryError that kills any thread ends the process. Other deaths of threads that are not
     * essential are only logged, as the JVM would.
     */
    public void installAsDefault() {
        Thread.setDefaultUncaughtExceptionHandler((thread, cause) -> {
            if (!check(cause)) {
                log.error("thread {} died", thread.getName(), cause);
            }
        });
    }

    /** An essential thread has died: fatal, whatever killed it. */
    @Override
    public void uncaughtException(Thread thread, Throwable cause) {
        died("thread " + thread.getName(), cause);
    }

    /**
     * Something essential has stopped.
     *
     * @param cause what killed it, or null if it ended without one
     */
    public void died(String what, Throwable cause) {
        // Out of memory, even building the message may fail: the process ends all the same.
        try {
            reserve = null;
            report(what + " died" + (cause == null ? "" : " of " + cause));
        } finally {
            end();
        }
    }

    /**
     * Looks at an error that some code caught: fatal if it is, or was caused by, an OutOfMemoryError.
     *
     * @return whether it was fatal (a {@link #logging()} instance returns; a halting one does not)
     */
    public boolean check(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                try {
                    reserve = null;
                    report("out of memory (" + t + ") on thread " + Thread.currentThread().getName());
                } finally {
                    end();
                }
                return true;
            }
        }
        return false;
    }

    /**
     * Ends the process if it is still running after {@code limit}: for a shutdown that waits on
     * something that never comes (a dead event loop, a stuck store), so that SIGTERM always ends it.
     */
    public void deadline(Duration limit, String what) {
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(limit.toMillis());
            } catch (InterruptedException e) {
                return;
            }
            try {
                reserve = null;
                report(what + " did not finish within " + limit.toSeconds() + " s");
            } finally {
                end();
            }
        }, "parley-deadline");
        watchdog.setDaemon(true);
        watchdog.start();
    }

    /** A handler that passes on what Netty catches on a channel (the listening socket's, say) to {@link #check}. */
    public ChannelHandler watch() {
        return watch;
    }

    private void report(String what) {
        try {
            if (halt) {
                log.error("fatal: {}; exiting with {} so that a supervisor restarts the server", what, EXIT_CODE);
            } else if (fired.compareAndSet(false, true)) {
                log.error("fatal: {}; this server can no longer be trusted to serve: stop it", what);
            }
        } catch (Throwable ignored) {
            // Out of memory, logging may fail too; the exit code still says what happened.
        }
    }

    private void end() {
        if (halt) {
            Runtime.getRuntime().halt(EXIT_CODE);
        }
    }

    @ChannelHandler.Sharable
    private final class Watch extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            check(cause);
            ctx.fireExceptionCaught(cause);
        }
    }
}
