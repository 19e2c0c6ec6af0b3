package io.parley.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code parley}: the one entry point of the jar. Each job is a subcommand. */
@Command(name = "parley",
        mixinStandardHelpOptions = true,
        versionProvider = ParleyCommand.Version.class,
        description = "Parley: a real-time group chat server over WebSocket.",
        subcommands = {ServeCommand.class, ChatCommand.class, BenchCommand.class, TokenCommand.class, UserCommand.class, RoomCommand.class,
                CommandLine.HelpCommand.class})
public final class ParleyCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line, shared by {@link #main} and tests. */
    public static CommandLine commandLine() {
        return new CommandLine(new ParleyCommand()).setCaseInsensitiveEnumValuesAllowed(true);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = ParleyCommand.class.getPackage().getImplementationVersion();
            return new String[] {"parley " + (v == null ? "dev" : v)};
        }
    }
}
