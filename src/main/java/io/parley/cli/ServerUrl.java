package io.parley.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.net.URI;
import java.util.List;

/**
 * The {@code --url} option of the client commands ({@code chat}, {@code bench}): which server to talk
 * to. Both speak WebSocket only, so an http:// address is a typo and is refused as one. {@code bench}
 * takes several (the nodes of one cluster, sharing rooms) and spreads its members over them; {@code chat}
 * talks to one.
 */
final class ServerUrl {

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--url", paramLabel = "URL", split = ",",
            defaultValue = "${env:PARLEY_URL:-ws://127.0.0.1:8080/chat}",
            description = {"Server WebSocket address, env PARLEY_URL (default: ${DEFAULT-VALUE}).",
                    "parley bench takes several, repeated or comma-separated: nodes sharing rooms, members spread"
                            + " over them in turn."})
    List<URI> urls;

    /** The one address, once checked to be ws:// or wss://; several are refused. */
    URI get() {
        List<URI> all = all();
        if (all.size() > 1) {
            throw new ParameterException(command.commandLine(), "--url names one server here, was " + all.size()
                    + ": " + all);
        }
        return all.getFirst();
    }

    /** Every address given, in order, each checked to be ws:// or wss://. */
    List<URI> all() {
        for (URI url : urls) {
            String scheme = url.getScheme();
            if (!"ws".equalsIgnoreCase(scheme) && !"wss".equalsIgnoreCase(scheme)) {
                throw new ParameterException(command.commandLine(),
                        "--url must start with ws:// or wss://, was " + url);
            }
        }
        return List.copyOf(urls);
    }
}
