package io.parley.resilience;

import io.parley.testing.AttackTarget;
import io.parley.testing.RawSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.Deflater;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Zip bombs over permessage-deflate: four connections negotiate compression and send, again and again,
 * one frame of 16 KB that inflates to 16 MB of spaces. Netty's own decoder would inflate each completely
 * (16 MB per frame, per connection) before any limit looked at it; with -Xmx256m a few of those at once
 * end the server. Each must be refused with 1009, and the server must go on serving.
 */
class HostileDeflateTest {

    private static final Duration ATTACK = Duration.ofSeconds(8);
    private static final int ATTACKERS = 4;

    @TempDir
    Path dir;

    @Test
    void connectionsSendingZipBombsAreClosedWith1009WhileOthersChat() throws Exception {
        byte[] bomb = bomb(16 << 20);
        try (AttackTarget target = AttackTarget.start(dir)) {
            target.assertServing();
            long rssBefore = target.rssBytes();
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService attackers = Executors.newFixedThreadPool(ATTACKERS);
            List<Future<int[]>> results = new ArrayList<>();
            for (int i = 0; i < ATTACKERS; i++) {
                results.add(attackers.submit(() -> attack(target.port(), bomb, stop)));
            }
            long checks = 0;
            long maxRss = 0;
            try {
                long end = System.nanoTime() + ATTACK.toNanos();
                while (System.nanoTime() < end) {
                    target.assertServing();
                    maxRss = Math.max(maxRss, target.rssBytes());
                    checks++;
                }
            } finally {
                stop.set(true);
                attackers.shutdown();
            }
            int bombs = 0;
            int refused = 0;
            for (Future<int[]> r : results) {
                int[] counts = r.get();
                bombs += counts[0];
                refused += counts[1];
            }
            System.out.printf("zip bombs: %d sent (%d KB each, 16 MB inflated), %d closed with 1009;"
                    + " %d checks during it, RSS %d MB before, at most %d MB during%n", bombs, bomb.length >> 10, refused,
                    checks, rssBefore >> 20, maxRss >> 20);
            assertThat(bombs).isGreaterThanOrEqualTo(ATTACKERS);
            assertThat(refused).as("bombs refused with 1009").isEqualTo(bombs);
            target.assertServing();
            assertThat(target.alive()).isTrue();
        }
    }

    /** Sends bombs on fresh connections until told to stop; returns {bombs sent, closes with 1009}. */
    private static int[] attack(int port, byte[] bomb, AtomicBoolean stop) throws Exception {
        int sent = 0;
        int refused = 0;
        while (!stop.get()) {
            try (RawSocket raw = new RawSocket(port)) {
                String head = raw.request("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
                assertThat(head).startsWith("HTTP/1.1 101").containsIgnoringCase("permessage-deflate");
                raw.frame(0x40 | RawSocket.TEXT, true, bomb, true);
                sent++;
                if (raw.awaitClose() == 1009) {
                    refused++;
                }
            }
        }
        return new int[]{sent, refused};
    }

    private static byte[] bomb(int inflated) {
        Deflater deflater = new Deflater(9, true);
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] spaces = new byte[1 << 16];
            Arrays.fill(spaces, (byte) ' ');
            byte[] buffer = new byte[1 << 16];
            for (int fed = 0; fed < inflated; fed += spaces.length) {
                deflater.setInput(spaces);
                while (!deflater.needsInput()) {
                    out.write(buffer, 0, deflater.deflate(buffer, 0, buffer.length, Deflater.NO_FLUSH));
                }
            }
            int n = deflater.deflate(buffer, 0, buffer.length, Deflater.SYNC_FLUSH);
            out.write(buffer, 0, n - 4);
            return out.toByteArray();
        } finally {
            deflater.end();
        }
    }
}
