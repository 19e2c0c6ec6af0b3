package io.parley.engine.cluster;

import io.parley.engine.cluster.RoomBatchCodec.Batch;
import io.parley.engine.cluster.RoomBatchCodec.MalformedPayloadException;
import io.parley.engine.cluster.RoomBatchCodec.Presence;
import io.parley.store.StoredMessage;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RoomBatchCodecTest {

    private static final List<StoredMessage> BATCH = List.of(
            new StoredMessage("lobby", 41, "c-1", "guest:Zoë", "Zoë", "héllo 👋 — 你好", 1_700_000_000_000L),
            new StoredMessage("lobby", 42, "c-2", "sub|42", "Ангелина", "", 1_700_000_000_001L),
            new StoredMessage("lobby", 44, "x".repeat(64), "u", "A", "line\nbreak \u0000 nul 𝄞", Long.MAX_VALUE));

    @Test
    void batchRoundTripsUnicodeExactly() {
        byte[] bytes = RoomBatchCodec.encodeBatch("node-a", BATCH);

        Batch batch = (Batch) RoomBatchCodec.decode(bytes);

        assertThat(batch.nodeId()).isEqualTo("node-a");
        assertThat(batch.room()).isEqualTo("lobby");
        assertThat(batch.messages()).isEqualTo(BATCH);
    }

    @Test
    void presenceRoundTrips() {
        byte[] bytes = RoomBatchCodec.encodePresence("n1", "room.x", List.of("Zoë", "Zoë", "bob"), List.of("Ангелина"));

        assertThat(RoomBatchCodec.decode(bytes))
                .isEqualTo(new Presence("n1", "room.x", List.of("Zoë", "Zoë", "bob"), List.of("Ангелина")));
    }

    @Test
    void deletionRoundTripsAndAnEmptyOrNegativeRangeIsMalformed() {
        byte[] bytes = RoomBatchCodec.encodeDeletion("n1", "lobby", 0, 7, "account:Zoë", 1_795_305_600_000L);
        assertThat(RoomBatchCodec.decode(bytes, "lobby"))
                .isEqualTo(new RoomBatchCodec.Deletion("n1", "lobby", 0, 7, "account:Zoë", 1_795_305_600_000L));
        for (int n = 0; n < bytes.length; n++) {
            byte[] cut = Arrays.copyOf(bytes, n);
            assertThatThrownBy(() -> RoomBatchCodec.decode(cut)).isInstanceOf(MalformedPayloadException.class);
        }
        // after and upTo are the two longs right after the header (version, kind, "n1", "lobby").
        int at = 2 + 3 + 6;
        byte[] backwards = bytes.clone();
        backwards[at + 7] = 9;
        assertThatThrownBy(() -> RoomBatchCodec.decode(backwards)).isInstanceOf(MalformedPayloadException.class)
                .hasMessageContaining("deletion of seqs");
        byte[] negative = bytes.clone();
        negative[at] = (byte) 0x80;
        assertThatThrownBy(() -> RoomBatchCodec.decode(negative)).isInstanceOf(MalformedPayloadException.class);
        assertThatThrownBy(() -> RoomBatchCodec.encodeDeletion("n1", "lobby", 3, 3, "m", 0))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void noticeRoundTripsAndAnEmptyTopicIsMalformed() {
        byte[] bytes = RoomBatchCodec.encodeNotice("n1", "lobby", "sanctions");
        assertThat(RoomBatchCodec.decode(bytes, "lobby")).isEqualTo(new RoomBatchCodec.Notice("n1", "lobby", "sanctions"));
        byte[] empty = Arrays.copyOf(bytes, bytes.length - "sanctions".length());
        empty[empty.length - 1] = 0;
        assertThatThrownBy(() -> RoomBatchCodec.decode(empty)).isInstanceOf(MalformedPayloadException.class)
                .hasMessageContaining("topic");
        assertThatThrownBy(() -> RoomBatchCodec.encodeNotice("n1", "lobby", "x".repeat(65)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aPayloadForAnotherRoomIsMalformedOnThisRoomsChannel() {
        byte[] bytes = RoomBatchCodec.encodeBatch("node-a", BATCH);

        assertThat(RoomBatchCodec.decode(bytes, "lobby")).isInstanceOf(Batch.class);
        assertMalformedOn(bytes, "other", "room lobby on the channel of other");
    }

    private static void assertMalformedOn(byte[] bytes, String channelRoom, String reason) {
        assertThatThrownBy(() -> RoomBatchCodec.decode(bytes, channelRoom))
                .isInstanceOf(MalformedPayloadException.class).hasMessageContaining(reason);
    }

    @Test
    void refusesToEncodeWhatItCouldNotDecode() {
        assertThatThrownBy(() -> RoomBatchCodec.encodeBatch("n", List.of()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RoomBatchCodec.encodeBatch("n", List.of(BATCH.get(1), BATCH.get(0))))
                .hasMessageContaining("ascend");
        assertThatThrownBy(() -> RoomBatchCodec.encodeBatch("n",
                List.of(BATCH.get(0), new StoredMessage("other", 50, "i", "u", "f", "t", 0))))
                .hasMessageContaining("one room");
        assertThatThrownBy(() -> RoomBatchCodec.encodePresence("n", "bad room", List.of("a"), List.of()))
                .hasMessageContaining("room");
    }

    @Test
    void rejectsEveryTruncationAndTrailingBytes() {
        byte[] bytes = RoomBatchCodec.encodeBatch("node-a", BATCH);
        for (int n = 0; n < bytes.length; n++) {
            byte[] cut = Arrays.copyOf(bytes, n);
            assertThatThrownBy(() -> RoomBatchCodec.decode(cut)).as("cut at %d", n)
                    .isInstanceOf(MalformedPayloadException.class);
        }
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 1);
        assertThatThrownBy(() -> RoomBatchCodec.decode(longer))
                .isInstanceOf(MalformedPayloadException.class).hasMessageContaining("after the end");
    }

    @Test
    void rejectsWrongVersionKindUtf8RoomAndCounts() {
        byte[] good = RoomBatchCodec.encodePresence("n1", "lobby", List.of("a"), List.of());
        // version, kind, len(2) "n1", len(5) "lobby", joined count, len "a", left count
        assertThat(good[0]).isEqualTo((byte) 1);

        assertMalformed(with(good, 0, 9), "version");
        assertMalformed(with(good, 1, 7), "kind");
        assertMalformed(with(good, 5, '{'), "room");
        assertMalformed(with(good, 3, 0xC3), "UTF-8");
        // A count far beyond the bytes left must fail before any allocation.
        byte[] huge = {1, 1, 1, 'n', 5, 'l', 'o', 'b', 'b', 'y', (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x07};
        assertMalformed(huge, "exceeds");
        byte[] overflow = {1, 1, 1, 'n', 5, 'l', 'o', 'b', 'b', 'y', (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x7F};
        assertMalformed(overflow, "out of range");
        byte[] nobody = {1, 2, 1, 'n', 5, 'l', 'o', 'b', 'b', 'y', 0, 0};
        assertMalformed(nobody, "nobody");
    }

    @Test
    void rejectsDescendingSeqsFromAHostileSender() {
        byte[] bytes = RoomBatchCodec.encodeBatch("n", List.of(
                new StoredMessage("r", 5, "a", "u", "f", "t", 0), new StoredMessage("r", 6, "b", "u", "f", "t", 0)));
        // The second message's seq starts after: header (1+1+2+2) + count (1) + first message (8+2+2+2+2+8).
        int second = 6 + 1 + 24;
        bytes[second + 7] = 4;
        assertMalformed(bytes, "seq 4 after 5");
    }

    @Test
    void randomGarbageIsRejectedWithTheCodecsOwnException() {
        Random random = new Random(20261201L);
        for (int i = 0; i < 20_000; i++) {
            byte[] garbage = new byte[random.nextInt(64)];
            random.nextBytes(garbage);
            if (garbage.length > 1 && random.nextBoolean()) {
                garbage[0] = 1;
                garbage[1] = (byte) (1 + random.nextInt(2));
            }
            try {
                RoomBatchCodec.decode(garbage);
            } catch (MalformedPayloadException expected) {
                // The only exception garbage may cause.
            }
        }
    }

    private static byte[] with(byte[] bytes, int index, int value) {
        byte[] copy = bytes.clone();
        copy[index] = (byte) value;
        return copy;
    }

    private static void assertMalformed(byte[] bytes, String reason) {
        assertThatThrownBy(() -> RoomBatchCodec.decode(bytes))
                .isInstanceOf(MalformedPayloadException.class).hasMessageContaining(reason);
    }
}
