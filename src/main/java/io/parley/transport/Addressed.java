package io.parley.transport;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.NetUtil;
import io.parley.config.Networks;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * What address the browser used for a request: the host (host[:port], as a {@code Host} header
 * writes it) and, when known, the scheme. {@link OriginPolicy} compares a page's {@code Origin} with it,
 * and checks the host against {@code --public-url}.
 *
 * <p>From anyone but a trusted proxy ({@code --trusted-proxy}) it is the request's own {@code Host}
 * and no scheme (either may be right: a TLS-terminating proxy Parley was not told about may sit in
 * front). Behind a trusted proxy, {@code Host} may be the proxy's name for Parley (nginx sends the
 * {@code proxy_pass} address unless told otherwise), so what the proxy says the browser used wins:
 * <ul>
 *   <li>{@code X-Forwarded-Host} and {@code X-Forwarded-Proto}: the right-most value, the one the
 *       proxy that connected to Parley wrote. A proxy sets these, replacing what the client sent.</li>
 *   <li>RFC 7239 {@code Forwarded}: {@code host=} and {@code proto=} of the left-most element that a
 *       trusted proxy added. Read as {@code X-Forwarded-For} is (see {@link Admission#clientBehind}):
 *       the last element is the peer's; the one before it was added by the proxy the last one names
 *       in {@code for=}, and is believed only if that proxy is trusted too; and so on leftwards. The
 *       left-most believed element is the outermost trusted proxy's, which the browser reached.</li>
 * </ul>
 * If both kinds name a host (or a scheme) and they differ, neither is believed and {@code Host} (or no
 * scheme) is used: one of them was passed on from the client by a proxy that sets only the other.
 *
 * <p>Every byte here came from the network. A host must look like a host name, an IPv4 address or a
 * bracketed IPv6 address with an optional port, at most 300 characters; a scheme {@code http} or
 * {@code https}; a {@code Forwarded} header must parse as RFC 7239 says. Anything else is ignored, as
 * if the header were absent: the request then goes on with its {@code Host}, which the checks after
 * this judge as they would without a proxy (a 421 or 403, never a 500).
 *
 * <p>Stateless; called on a connection's event loop by TargetGuard, UpgradeGuard and ApiRoutes.
 */
record Addressed(String host, String scheme) {

    static final String X_FORWARDED_HOST = "X-Forwarded-Host";
    static final String X_FORWARDED_PROTO = "X-Forwarded-Proto";
    static final String FORWARDED = "Forwarded";

    private static final int MAX_HOST = 300;
    /**
     * host[:port]: a name (letters, digits, '-', '.', '_'; IDNs in their xn-- form, as browsers send
     * them), an IPv4 address, or [IPv6]. No '@', '/', '\' or whitespace, which could make a URL
     * built from it mean another host.
     */
    private static final Pattern HOST = Pattern.compile("(?:[a-z0-9._-]{1,253}|\\[[0-9a-f:.]{2,45}])(?::[0-9]{1,5})?",
            Pattern.CASE_INSENSITIVE);

    /** How a request on this channel was addressed; see the class comment for whose word counts. */
    static Addressed of(Channel channel, HttpHeaders headers, Networks proxies) {
        InetAddress peer = channel.remoteAddress() instanceof InetSocketAddress address ? address.getAddress() : null;
        return of(peer, headers, proxies);
    }

    static Addressed of(InetAddress peer, HttpHeaders headers, Networks proxies) {
        String host = headers.get(HttpHeaderNames.HOST);
        if (peer == null || !proxies.contains(peer)) {
            return new Addressed(host, null);
        }
        String xHost = validHost(rightMost(headers.getAll(X_FORWARDED_HOST)));
        String xProto = validScheme(rightMost(headers.getAll(X_FORWARDED_PROTO)));
        Addressed forwarded = fromForwarded(headers.getAll(FORWARDED), proxies);
        String forwardedHost = agreed(xHost, forwarded == null ? null : forwarded.host);
        String forwardedScheme = agreed(xProto, forwarded == null ? null : forwarded.scheme);
        return new Addressed(forwardedHost != null ? forwardedHost : host, forwardedScheme);
    }

    /** One source's value, or the other's; neither when both speak and disagree. */
    private static String agreed(String a, String b) {
        if (a == null) {
            return b;
        }
        return b == null || a.equals(b) ? a : null;
    }

    /**
     * The last comma-separated entry of a header's values without surrounding whitespace (control
     * bytes stay, and fail validation); null if there is none.
     */
    private static String rightMost(List<String> values) {
        if (values.isEmpty()) {
            return null;
        }
        String last = values.getLast();
        return last.substring(last.lastIndexOf(',') + 1).strip();
    }

    /** The host in lower case if it is one; null otherwise. */
    static String validHost(String host) {
        if (host == null || host.length() > MAX_HOST || !HOST.matcher(host).matches()) {
            return null;
        }
        return host.toLowerCase(Locale.ROOT);
    }

    private static String validScheme(String scheme) {
        if (scheme == null) {
            return null;
        }
        String lower = scheme.toLowerCase(Locale.ROOT);
        return lower.equals("http") || lower.equals("https") ? lower : null;
    }

    /**
     * host= and proto= from the elements of {@code Forwarded} that trusted proxies added (see the class
     * comment), each from the left-most such element that has it; null if the header is absent or does
     * not parse. A value that is not a valid host or scheme counts as absent.
     */
    private static Addressed fromForwarded(List<String> values, Networks proxies) {
        if (values.isEmpty()) {
            return null;
        }
        List<Element> elements = ForwardedParser.parse(String.join(",", values));
        if (elements == null) {
            return null;
        }
        String host = null;
        String scheme = null;
        for (int i = elements.size() - 1; i >= 0; i--) {
            Element e = elements.get(i);
            String h = validHost(e.host());
            String s = validScheme(e.proto());
            host = h != null ? h : host;
            scheme = s != null ? s : scheme;
            InetAddress before = e.forNode() == null ? null
                    : NetUtil.createInetAddressFromIpAddressString(Admission.withoutPort(e.forNode()));
            if (before == null || !proxies.contains(before)) {
                break;
            }
        }
        return new Addressed(host, scheme);
    }

    /** One element of a {@code Forwarded} header: its for=, host= and proto= (null where absent). */
    record Element(String forNode, String host, String proto) { }

    /**
     * RFC 7239's grammar, section 4: {@code Forwarded = 1#forwarded-element}, each element
     * {@code pair *( ";" pair )}, a pair {@code token "=" value}, a value a token or a quoted-string
     * (with backslash escapes). Empty list members are skipped, as RFC 7230's {@code #} rule allows.
     * A parameter given twice in one element, or anything outside the grammar, makes the whole header
     * unreadable: it is then ignored rather than guessed at.
     */
    static final class ForwardedParser {

        /** More elements than any real chain of proxies writes; a longer header is ignored. */
        static final int MAX_ELEMENTS = 32;

        private final String text;
        private int at;

        private ForwardedParser(String text) {
            this.text = text;
        }

        /** The elements, or null if the header is not RFC 7239 {@code Forwarded}. */
        static List<Element> parse(String header) {
            return new ForwardedParser(header).elements();
        }

        private List<Element> elements() {
            List<Element> elements = new ArrayList<>();
            while (true) {
                skipSpaces();
                if (at == text.length()) {
                    return elements.isEmpty() ? null : elements;
                }
                if (text.charAt(at) == ',') {
                    at++;
                    continue;
                }
                Element e = element();
                if (e == null || elements.size() == MAX_ELEMENTS) {
                    return null;
                }
                elements.add(e);
                skipSpaces();
                if (at < text.length() && text.charAt(at) != ',') {
                    return null;
                }
            }
        }

        private Element element() {
            String forNode = null;
            String host = null;
            String proto = null;
            List<String> seen = new ArrayList<>(4);
            while (true) {
                skipSpaces();
                String name = token();
                if (name == null || at == text.length() || text.charAt(at) != '=') {
                    return null;
                }
                at++;
                String value = at < text.length() && text.charAt(at) == '"' ? quoted() : token();
                if (value == null) {
                    return null;
                }
                name = name.toLowerCase(Locale.ROOT);
                if (seen.contains(name)) {
                    return null;
                }
                seen.add(name);
                switch (name) {
                    case "for" -> forNode = value;
                    case "host" -> host = value;
                    case "proto" -> proto = value;
                    default -> { } // "by" and extensions say nothing Parley needs
                }
                skipSpaces();
                if (at < text.length() && text.charAt(at) == ';') {
                    at++;
                } else {
                    return new Element(forNode, host, proto);
                }
            }
        }

        /** RFC 7230 tchar+; null if there is none here. */
        private String token() {
            int start = at;
            while (at < text.length() && isTchar(text.charAt(at))) {
                at++;
            }
            return at == start ? null : text.substring(start, at);
        }

        /** A quoted-string's content, its escapes undone; null if it is not closed or holds control bytes. */
        private String quoted() {
            StringBuilder value = new StringBuilder();
            at++;
            while (at < text.length()) {
                char c = text.charAt(at++);
                if (c == '"') {
                    return value.toString();
                }
                if (c == '\\') {
                    if (at == text.length()) {
                        return null;
                    }
                    c = text.charAt(at++);
                }
                if (c < 0x20 && c != '\t' || c == 0x7f) {
                    return null;
                }
                value.append(c);
            }
            return null;
        }

        private void skipSpaces() {
            while (at < text.length() && (text.charAt(at) == ' ' || text.charAt(at) == '\t')) {
                at++;
            }
        }

        private static boolean isTchar(char c) {
            return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
                    || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
        }
    }
}
