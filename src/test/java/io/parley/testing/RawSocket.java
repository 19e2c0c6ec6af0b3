package io.parley.testing;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A TCP socket speaking bytes by hand, for what a proper client will not send: handshakes byte for
 * byte, malformed frames, invalid UTF-8, unmasked frames, a client that never answers pings.
 */
public final class RawSocket implements AutoCloseable {

    public static final int TEXT = 0x1;
    public static final int BINARY = 0x2;
    public static final int CONTINUATION = 0x0;
    public static final int CLOSE = 0x8;
    public static final int PING = 0x9;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    public RawSocket(int port) throws IOException {
        this(port, 0);
    }

    /** With {@code receiveBuffer > 0}, a small kernel receive buffer, for a client that reads slowly. */
    public RawSocket(int port, int receiveBuffer) throws IOException {
        socket = new Socket();
        if (receiveBuffer > 0) {
            socket.setReceiveBufferSize(receiveBuffer);
        }
        socket.connect(new java.net.InetSocketAddress("127.0.0.1", port));
        socket.setSoTimeout(10_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    /** Sends a request and returns the response head (status line and headers), as text. */
    public String request(String head) throws IOException {
        out.write(head.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        return readHead();
    }

    /** Performs a valid upgrade to /chat and returns the response head. */
    public String upgrade() throws IOException {
        return request("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    }

    /** Writes bytes as they are, for a request sent piece by piece (slow loris). */
    public void write(String raw) throws IOException {
        out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
    }

    /** Reads a response head (status line and headers); empty if the server closed before sending one. */
    public String readHead() throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            String sofar = head.toString(StandardCharsets.ISO_8859_1);
            if (sofar.endsWith("\r\n\r\n")) {
                break;
            }
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    /** Reads the body that follows a response head with Content-Length. */
    public String body(String head) throws IOException {
        int length = 0;
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /** Writes one client frame; {@code masked=false} breaks RFC 6455 on purpose. */
    public void frame(int opcode, boolean fin, byte[] payload, boolean masked) throws IOException {
        out.write(encodeFrame(opcode, fin, payload, masked));
        out.flush();
    }

    /**
     * One client frame's bytes, for a test that must send several in one write (a server may close as
     * soon as the first is refused; a second write would then race its close).
     */
    public static byte[] encodeFrame(int opcode, boolean fin, byte[] payload, boolean masked) {
        ByteArrayOutputStream f = new ByteArrayOutputStream();
        f.write((fin ? 0x80 : 0) | opcode);
        int maskBit = masked ? 0x80 : 0;
        if (payload.length < 126) {
            f.write(maskBit | payload.length);
        } else if (payload.length < 65536) {
            f.write(maskBit | 126);
            f.write(payload.length >> 8);
            f.write(payload.length & 0xff);
        } else {
            f.write(maskBit | 127);
            for (int i = 7; i >= 0; i--) {
                f.write((int) ((long) payload.length >> (8 * i)) & 0xff);
            }
        }
        byte[] data = payload.clone();
        if (masked) {
            byte[] mask = new byte[4];
            ThreadLocalRandom.current().nextBytes(mask);
            f.writeBytes(mask);
            for (int i = 0; i < data.length; i++) {
                data[i] ^= mask[i % 4];
            }
        }
        f.writeBytes(data);
        return f.toByteArray();
    }

    /** Writes bytes as they are: half a frame, a header that lies about its length, anything. */
    public void write(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    public void text(String json) throws IOException {
        frame(TEXT, true, json.getBytes(StandardCharsets.UTF_8), true);
    }

    /** One server frame: opcode and payload. */
    public record Frame(int opcode, byte[] payload) {
        public String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }

        public int closeCode() {
            return payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
        }
    }

    public Frame readFrame() throws IOException {
        DataInputStream d = new DataInputStream(in);
        int b0 = d.readUnsignedByte();
        int b1 = d.readUnsignedByte();
        long length = b1 & 0x7f;
        if (length == 126) {
            length = d.readUnsignedShort();
        } else if (length == 127) {
            length = d.readLong();
        }
        byte[] payload = d.readNBytes((int) length);
        if (payload.length < length) {
            throw new java.io.EOFException("the connection ended inside a frame, after " + payload.length + " of "
                    + length + " bytes");
        }
        return new Frame(b0 & 0x0f, payload);
    }

    /** Reads frames until a close frame and returns its code; -1 if the connection ends without one. */
    public int awaitClose() throws IOException {
        try {
            while (true) {
                Frame f = readFrame();
                if (f.opcode() == CLOSE) {
                    return f.closeCode();
                }
            }
        } catch (java.io.EOFException | java.net.SocketException e) {
            return -1;
        }
    }

    /** Reads until the next text frame, skipping pings. */
    public String readText() throws IOException {
        while (true) {
            Frame f = readFrame();
            if (f.opcode() == TEXT) {
                return f.text();
            }
            if (f.opcode() == CLOSE) {
                throw new IOException("closed with " + f.closeCode());
            }
        }
    }

    /** True if the server closed the TCP connection within the socket timeout. */
    public boolean closedByServer() throws IOException {
        try {
            while (in.read() >= 0) {
                // drain
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException e) {
            return true;
        }
    }

    /** The socket's input as it is, for a test that parses frames itself (RSV bits included). */
    public InputStream input() {
        return in;
    }

    public void timeout(int millis) throws IOException {
        socket.setSoTimeout(millis);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
