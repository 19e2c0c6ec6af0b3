package io.parley.cli;

import picocli.CommandLine;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A lifetime on the command line: a whole number with a unit, {@code 90s}, {@code 15m}, {@code 12h}, {@code 30d}; a bare number is seconds. */
final class Lifetimes implements CommandLine.ITypeConverter<Duration> {

    private static final Pattern FORM = Pattern.compile("([0-9]{1,9})([smhd]?)");

    @Override
    public Duration convert(String value) {
        Matcher m = FORM.matcher(value.trim());
        if (!m.matches()) {
            throw new CommandLine.TypeConversionException("'" + value + "' is no lifetime: give e.g. 90s, 15m, 12h or 30d");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            case "d" -> Duration.ofDays(n);
            default -> Duration.ofSeconds(n);
        };
    }
}
