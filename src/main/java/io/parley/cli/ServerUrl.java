package io.parley.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.net.URI;

/**
 * The {@code --url} option of the client commands ({@code chat}, {@code bench}): which server to talk
 * to. Both speak WebSocket only, so an http:// address is a typo and is refused as one.
 */
final class ServerUrl {

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--url", paramLabel = "URL",
            defaultValue = "${env:PARLEY_URL:-ws://127.0.0.1:8080/chat}",
            description = "Server WebSocket address, env PARLEY_URL (default: ${DEFAULT-VALUE}).")
    URI url;

    /** The address, once checked to be ws:// or wss://. */
    URI get() {
        String scheme = url.getScheme();
        if (!"ws".equalsIgnoreCase(scheme) && !"wss".equalsIgnoreCase(scheme)) {
            throw new ParameterException(command.commandLine(), "--url must start with ws:// or wss://, was " + url);
        }
        return url;
    }
}
