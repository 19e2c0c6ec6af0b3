package io.parley.transport;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/** A kind of line clients can cause is written a few times a minute, and what was left out is counted. */
class ThrottledLogTest {

    /** A logger of this test's own, so that the appender sees nothing else and nothing else sees it. */
    private final Logger logger = (Logger) LoggerFactory.getLogger(ThrottledLogTest.class.getName() + ".lines");
    private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
    private final AtomicLong now = new AtomicLong(1_000);

    ThrottledLogTest() {
        lines.start();
        logger.addAppender(lines);
        logger.setAdditive(false);
    }

    @AfterEach
    void detach() {
        logger.detachAppender(lines);
        lines.stop();
    }

    @Test
    void writesAtMostTheLimitAMinuteThenSaysHowManyItLeftOut() {
        ThrottledLog log = new ThrottledLog(logger, "failed requests", 3, now::get);

        for (int i = 0; i < 1_000; i++) {
            log.error("request {} failed", i);
        }
        assertThat(lines.list).extracting(ILoggingEvent::getFormattedMessage)
                .containsExactly("request 0 failed", "request 1 failed", "request 2 failed");

        now.addAndGet(TimeUnit.SECONDS.toNanos(59));
        log.info("still within the minute");
        assertThat(lines.list).hasSize(3);

        now.addAndGet(TimeUnit.SECONDS.toNanos(2));
        log.error("request {} failed", 1_000);
        assertThat(lines.list).extracting(ILoggingEvent::getFormattedMessage).last().isEqualTo("request 1000 failed");
        assertThat(lines.list.get(3).getFormattedMessage())
                .isEqualTo("998 more lines about failed requests were left out in the last 61 s (at most 3 a minute are written)");
    }

    @Test
    void aQuietMinuteLeavesNoSummary() {
        ThrottledLog log = new ThrottledLog(logger, "failed requests", 3, now::get);
        log.error("one");
        now.addAndGet(TimeUnit.MINUTES.toNanos(5));
        log.error("two");

        assertThat(lines.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly("one", "two");
    }
}
