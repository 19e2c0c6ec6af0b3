package io.parley.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The logging set-up that replaced logback.xml says what the XML said: PARLEY_LOG_LEVEL for the root,
 * Netty and HikariCP at WARN, one line per event on stderr in the documented form. Each test sets up a
 * LoggerContext of its own, never the JVM's.
 */
class LogConfigurationTest {

    @Test
    void rootLevelComesFromTheSettingInAnyCaseAndDefaultsToInfo() {
        assertThat(rootLevelFor(null)).isEqualTo(Level.INFO);
        assertThat(rootLevelFor("debug")).isEqualTo(Level.DEBUG);
        assertThat(rootLevelFor(" WARN ")).isEqualTo(Level.WARN);
        assertThat(rootLevelFor("chatty")).isEqualTo(Level.INFO);
    }

    @Test
    void nettyAndThePoolLogOnlyWarningsWhateverTheRootLevel() {
        LoggerContext context = new LoggerContext();
        LogConfiguration.apply(context, "TRACE");
        assertThat(context.getLogger("io.netty.channel.DefaultChannelPipeline").getEffectiveLevel()).isEqualTo(Level.WARN);
        assertThat(context.getLogger("com.zaxxer.hikari.HikariDataSource").getEffectiveLevel()).isEqualTo(Level.WARN);
        assertThat(context.getLogger("io.parley.transport.ParleyServer").getEffectiveLevel()).isEqualTo(Level.TRACE);
        context.stop();
    }

    @Test
    void writesOneReadableLinePerEventToStandardError() {
        LoggerContext context = new LoggerContext();
        LogConfiguration.apply(context, null);
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        ConsoleAppender<ILoggingEvent> stderr = (ConsoleAppender<ILoggingEvent>) root.getAppender("STDERR");
        assertThat(stderr.getTarget()).isEqualTo("System.err");

        Logger logger = context.getLogger("io.parley.transport.ParleyServer");
        LoggingEvent event = new LoggingEvent(Logger.class.getName(), logger, Level.INFO,
                "Parley listening on {}", null, new Object[] {"http://127.0.0.1:8080/"});
        event.setThreadName("main");
        String line = new String(stderr.getEncoder().encode(event), StandardCharsets.UTF_8);
        assertThat(line).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d) "
                + "INFO  \\[main\\] i\\.p\\.t\\.ParleyServer - Parley listening on http://127\\.0\\.0\\.1:8080/\\R");
        context.stop();
    }

    private static Level rootLevelFor(String setting) {
        LoggerContext context = new LoggerContext();
        LogConfiguration.apply(context, setting);
        Level level = context.getLogger(Logger.ROOT_LOGGER_NAME).getLevel();
        context.stop();
        return level;
    }
}
