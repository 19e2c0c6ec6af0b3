package io.parley.bench;

import java.net.URI;

/**
 * One node's part of a run spread over several ({@link SpreadTransport}).
 *
 * @param url        the node's address
 * @param members    members that joined through it
 * @param deliveries deliveries of the run's messages that its members got
 */
public record NodeShare(URI url, long members, long deliveries) {
}
