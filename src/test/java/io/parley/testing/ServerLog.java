package io.parley.testing;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.read.ListAppender;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;

/**
 * What one in-process server logs while a test runs. A server that logs an error has hit a bug or a
 * broken store (it answers clients with {@code internal_error} or {@code store_unavailable}), so tests
 * that throw hostile input at it check that none was logged.
 *
 * <p>Only that server's lines are kept: those logged on its own threads, whose names start with the
 * server's name (see {@code ParleyServer.start(config, name)}). Another test's server in the same JVM,
 * earlier or at the same time, cannot fail this one's checks. Netty's leak reports are left out too:
 * they surface on whichever thread allocates next, long after the leak, so CI checks them for the
 * whole run instead (.ci/run).
 */
public final class ServerLog implements AutoCloseable {

    private static final String LEAK_DETECTOR = "io.netty.util.ResourceLeakDetector";

    private final Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    private final ListAppender<ILoggingEvent> events = new ListAppender<>();

    private ServerLog(String threadPrefix) {
        events.addFilter(new Filter<>() {
            @Override
            public FilterReply decide(ILoggingEvent event) {
                return event.getThreadName().startsWith(threadPrefix) && !event.getLoggerName().equals(LEAK_DETECTOR)
                        ? FilterReply.NEUTRAL : FilterReply.DENY;
            }
        });
        events.start();
        root.addAppender(events);
    }

    /** Starts keeping what the server named {@code serverName} logs; TestServer calls it before the start. */
    static ServerLog capture(String serverName) {
        return new ServerLog(serverName + "-");
    }

    /** Events at ERROR level, each as one readable line with the exception's class and message. */
    public List<String> errors() {
        synchronized (events) {
            return events.list.stream()
                    .filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR))
                    .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()
                            + (e.getThrowableProxy() == null ? ""
                            : " (" + e.getThrowableProxy().getClassName() + ": " + e.getThrowableProxy().getMessage() + ")"))
                    .toList();
        }
    }

    /** Waits until a line containing {@code fragment} is logged; false if none is within the wait. */
    public boolean await(String fragment, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() < deadline) {
            synchronized (events) {
                if (events.list.stream().anyMatch(e -> e.getFormattedMessage().contains(fragment))) {
                    return true;
                }
            }
            Thread.sleep(5);
        }
        return false;
    }

    @Override
    public void close() {
        root.detachAppender(events);
        events.stop();
    }
}
