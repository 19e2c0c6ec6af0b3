package io.parley.cli;

import io.parley.account.Accounts;
import io.parley.auth.Passwords;
import io.parley.chat.ChatException;
import io.parley.chat.ChatRules;
import io.parley.config.ServerConfig;
import io.parley.store.Account;
import io.parley.store.AccountStore;
import io.parley.store.PostgresUrl;
import io.parley.store.StoreException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.Console;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/**
 * {@code parley user ...}: Parley's own accounts, in the database {@code parley serve} uses (the same
 * {@code --data-dir} or {@code --postgres-url}); the server may be running. Passwords are read from the
 * terminal without echo, or, when standard input is not a terminal, as its first line (for scripts);
 * never from the command line, where the process list would show them.
 */
@Command(name = "user", mixinStandardHelpOptions = true,
        description = "Manage accounts people sign in with (the same database as 'parley serve').",
        subcommands = {UserCommand.Add.class, UserCommand.Role.class, UserCommand.ListUsers.class,
                UserCommand.Passwd.class, UserCommand.Remove.class})
final class UserCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Where the accounts are: the options of {@code parley serve} that name its database. */
    static final class Database {
        @Option(names = "--data-dir", defaultValue = "${env:PARLEY_DATA_DIR:-data}",
                description = "Directory of the SQLite file parley.db (env PARLEY_DATA_DIR).")
        Path dataDir;

        @Option(names = "--postgres-url", defaultValue = "${env:PARLEY_POSTGRES_URL}", arity = "1",
                description = "The PostgreSQL database instead of SQLite (env PARLEY_POSTGRES_URL, preferred).")
        String postgresUrl;

        @Option(names = "--sqlite-busy-timeout", defaultValue = "${env:PARLEY_SQLITE_BUSY_TIMEOUT:-5000}",
                description = "Milliseconds to wait for the running server's lock on parley.db.")
        long busyTimeoutMillis;

        AccountStore open() {
            ServerConfig config = ServerConfig.defaults().withDataDir(dataDir)
                    .withSqliteBusyTimeout(Duration.ofMillis(busyTimeoutMillis))
                    .withPostgres(postgresUrl == null || postgresUrl.isBlank() ? null : PostgresUrl.parse(postgresUrl));
            return Accounts.openStore(config);
        }
    }

    /** Runs {@code work} on the store, turning the expected failures into a message and exit code 1. */
    abstract static class Step implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Database database;

        abstract void run(AccountStore store, PrintWriter out);

        @Override
        public Integer call() {
            try (AccountStore store = database.open()) {
                run(store, spec.commandLine().getOut());
                spec.commandLine().getOut().flush();
                return 0;
            } catch (ChatException | StoreException | IllegalArgumentException e) {
                spec.commandLine().getErr().println("parley user " + spec.name() + ": " + e.getMessage());
                return 1;
            }
        }

        Account existing(AccountStore store, String name) {
            Account a = Accounts.find(store, name);
            if (a == null) {
                throw new IllegalArgumentException("no account is named '" + name + "'");
            }
            return a;
        }

        /** A new password: typed twice at a terminal, or the first line of standard input. */
        String newPassword() {
            Console console = terminal();
            String password;
            if (console != null) {
                char[] first = console.readPassword("Password for the account: ");
                char[] again = console.readPassword("The same again: ");
                if (first == null || again == null) {
                    throw new IllegalArgumentException("no password given");
                }
                password = new String(first);
                if (!password.equals(new String(again))) {
                    throw new IllegalArgumentException("the two passwords differ");
                }
            } else {
                try {
                    password = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
                } catch (IOException e) {
                    throw new IllegalArgumentException("cannot read the password from standard input: " + e.getMessage());
                }
                if (password == null) {
                    throw new IllegalArgumentException("no password on standard input");
                }
            }
            Accounts.checkPassword(password);
            return password;
        }

        /**
         * The terminal, or null when standard input is not one. From JDK 22 on {@link System#console()}
         * answers even when input is redirected, and {@code isTerminal()} tells; JDK 21 answers null then.
         */
        private static Console terminal() {
            Console console = System.console();
            if (console == null) {
                return null;
            }
            try {
                return (Boolean) Console.class.getMethod("isTerminal").invoke(console) ? console : null;
            } catch (ReflectiveOperationException e) {
                return console;
            }
        }
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = {"Add an account. The password is asked at the terminal (twice, not shown), or read as the"
                    + " first line of standard input when that is not a terminal: echo \"$PW\" | parley user add NAME."})
    static final class Add extends Step {
        @Parameters(paramLabel = "NAME", description = "The name shown beside the user's messages; 1-32 characters.")
        String name;

        @Option(names = "--admin", description = "Give the account the admin role.")
        boolean admin;

        @Override
        void run(AccountStore store, PrintWriter out) {
            String checked = ChatRules.name(name);
            String password = newPassword();
            Account a = Accounts.register(store, new Passwords(), null, checked, password,
                    admin ? List.of("admin") : List.of());
            out.println("added " + a.name() + " (" + a.id() + ")");
        }
    }

    @Command(name = "role", mixinStandardHelpOptions = true, description = "Give an account a role, or take it away.")
    static final class Role extends Step {
        private static final Pattern ROLE = Pattern.compile("[a-z][a-z0-9_-]{0,31}");

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "ROLE", description = "e.g. admin")
        String role;

        @Option(names = "--remove", description = "Take the role away instead.")
        boolean remove;

        @Override
        void run(AccountStore store, PrintWriter out) {
            if (!ROLE.matcher(role).matches()) {
                throw new IllegalArgumentException("a role is 1-32 of a-z, 0-9, _ and -, starting with a letter");
            }
            Account a = existing(store, name);
            List<String> roles = new ArrayList<>(a.roles());
            roles.remove(role);
            if (!remove) {
                roles.add(role);
            }
            store.setRoles(a.id(), roles);
            out.println(a.name() + ": roles " + (roles.isEmpty() ? "(none)" : String.join(",", roles))
                    + " (in tokens minted from now on)");
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the accounts: name, id, roles, created.")
    static final class ListUsers extends Step {
        @Override
        void run(AccountStore store, PrintWriter out) {
            for (Account a : store.list()) {
                out.println(a.name() + "\t" + a.id() + "\t" + (a.roles().isEmpty() ? "-" : String.join(",", a.roles()))
                        + "\t" + Instant.ofEpochMilli(a.created()));
            }
        }
    }

    @Command(name = "passwd", mixinStandardHelpOptions = true,
            description = "Set an account's password (read as for 'add'); signs it out everywhere.")
    static final class Passwd extends Step {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        void run(AccountStore store, PrintWriter out) {
            Account a = existing(store, name);
            store.setPassword(a.id(), new Passwords().hash(newPassword()));
            int ended = store.revokeSessions(a.id(), System.currentTimeMillis());
            out.println(a.name() + ": password changed; " + ended + " session(s) ended");
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Remove an account and end its sessions. Its tokens already handed out stay valid until"
                    + " they expire (--session-token-ttl).")
    static final class Remove extends Step {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        void run(AccountStore store, PrintWriter out) {
            Account a = existing(store, name);
            store.remove(a.id());
            out.println("removed " + a.name() + " (" + a.id() + ")");
        }
    }
}
