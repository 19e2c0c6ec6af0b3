package io.parley.config;

import io.netty.handler.ipfilter.IpFilterRuleType;
import io.netty.handler.ipfilter.IpSubnetFilterRule;
import io.netty.util.NetUtil;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * A list of IP networks, as configured: the reverse proxies whose {@code X-Forwarded-*} and
 * {@code Forwarded} headers Parley believes ({@code --trusted-proxy}), and the networks
 * {@code /metrics} is served to ({@code --metrics-from}).
 *
 * <p>Each entry is an IP address ({@code 10.0.0.7}, {@code ::1}) or a CIDR block ({@code 10.0.0.0/8},
 * {@code fd00::/8}); host names are refused, so that nothing here ever waits for DNS. Immutable and
 * safe to share between event loops.
 */
public final class Networks {

    private static final Networks NONE = new Networks(List.of(), List.of());
    /** This machine only, as a list of entries (a flag's default). */
    public static final String LOOPBACK_ENTRIES = "127.0.0.0/8,::1";
    /** This machine only. */
    public static final Networks LOOPBACK = parse("loopback", List.of(LOOPBACK_ENTRIES.split(",")));

    private final List<String> entries;
    private final List<IpSubnetFilterRule> rules;

    private Networks(List<String> entries, List<IpSubnetFilterRule> rules) {
        this.entries = entries;
        this.rules = rules;
    }

    public static Networks none() {
        return NONE;
    }

    /**
     * @param what what the entries are, for the error message: "trusted proxy", "metrics network"
     * @throws IllegalArgumentException naming the first entry that is not an address or a CIDR block
     */
    public static Networks parse(String what, List<String> entries) {
        List<String> kept = new ArrayList<>();
        List<IpSubnetFilterRule> rules = new ArrayList<>();
        for (String raw : entries) {
            String entry = raw.trim();
            if (entry.isEmpty()) {
                continue;
            }
            int slash = entry.indexOf('/');
            String address = slash < 0 ? entry : entry.substring(0, slash);
            InetAddress literal = NetUtil.createInetAddressFromIpAddressString(address);
            if (literal == null) {
                throw new IllegalArgumentException(what + " \"" + entry
                        + "\" is not an IP address or CIDR block (e.g. 10.0.0.0/8)");
            }
            int bits = literal.getAddress().length * 8;
            int prefix = bits;
            if (slash >= 0) {
                try {
                    prefix = Integer.parseInt(entry.substring(slash + 1));
                } catch (NumberFormatException e) {
                    prefix = -1;
                }
                if (prefix < 0 || prefix > bits) {
                    throw new IllegalArgumentException(what + " \"" + entry
                            + "\" has a prefix length outside 0-" + bits);
                }
            }
            kept.add(entry);
            rules.add(new IpSubnetFilterRule(literal, prefix, IpFilterRuleType.ACCEPT));
        }
        return kept.isEmpty() ? NONE : new Networks(List.copyOf(kept), List.copyOf(rules));
    }

    public boolean isEmpty() {
        return rules.isEmpty();
    }

    /** Whether {@code address} is in one of the networks. */
    public boolean contains(InetAddress address) {
        if (rules.isEmpty()) {
            return false;
        }
        InetSocketAddress socket = new InetSocketAddress(address, 0);
        for (IpSubnetFilterRule rule : rules) {
            if (rule.matches(socket)) {
                return true;
            }
        }
        return false;
    }

    /** The entries as given, for logs and error messages. */
    public List<String> entries() {
        return entries;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Networks other && entries.equals(other.entries);
    }

    @Override
    public int hashCode() {
        return entries.hashCode();
    }

    @Override
    public String toString() {
        return entries.toString();
    }
}
