package io.parley.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;

/**
 * Parley's logging set-up, in code: one readable line per event on standard error, Netty and
 * HikariCP at WARN, the root at {@code PARLEY_LOG_LEVEL} (INFO by default).
 *
 * <p>Logback finds this class through {@code META-INF/services/ch.qos.logback.classic.spi.Configurator}
 * and calls {@link #configure} once, on whichever thread first asks SLF4J for a logger (the main
 * thread, in {@code parley serve}). It replaces a {@code logback.xml} that said the same: reading XML
 * made Logback load its Joran configurator and the JDK's XML parser, about 470 classes (of some 5,100
 * at start) that an idle server kept in metaspace for nothing (docs/BENCHMARKS.md, "Memory").
 *
 * <p>An operator who wants a Logback XML file after all names it with
 * {@code -Dlogback.configurationFile=...} (in {@code PARLEY_JAVA_OPTS}); this class then steps aside
 * and Logback reads the file as usual.
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_HIGH_PRIORITY)
public final class LogConfiguration extends ContextAwareBase implements Configurator {

    /** Date in ISO 8601 with the zone offset, level, thread, abbreviated logger, message. */
    static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{20} - %msg%n";

    private static final String LEVEL_VARIABLE = "PARLEY_LOG_LEVEL";
    private static final String LOGBACK_FILE_PROPERTY = "logback.configurationFile";

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty(LOGBACK_FILE_PROPERTY) != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        // A system property first, then the environment: the lookup order of the XML's ${PARLEY_LOG_LEVEL}.
        String level = System.getProperty(LEVEL_VARIABLE, System.getenv(LEVEL_VARIABLE));
        apply(context, level);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /** Sets {@code context} up with the root at {@code levelSetting}: a level's name, any case; else INFO. */
    static void apply(LoggerContext context, String levelSetting) {
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(PATTERN);
        encoder.start();

        ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
        stderr.setContext(context);
        stderr.setName("STDERR");
        stderr.setTarget("System.err");
        stderr.setEncoder(encoder);
        stderr.start();

        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(levelSetting == null ? null : levelSetting.trim(), Level.INFO));
        root.addAppender(stderr);
        context.getLogger("io.netty").setLevel(Level.WARN);
        // The pool says "Starting..." for every store opened; its warnings and errors still show.
        context.getLogger("com.zaxxer.hikari").setLevel(Level.WARN);
    }
}
