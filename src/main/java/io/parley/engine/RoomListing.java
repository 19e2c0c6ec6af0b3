package io.parley.engine;

/**
 * One room of the rooms list ({@link Broker#rooms}).
 *
 * @param room     its name
 * @param seq      its last message's seq, 0 when it has none
 * @param members  its member count (leases included), as the node that answered knows it
 * @param lastTime when its last message was stored (epoch ms), or null when it has none
 */
public record RoomListing(String room, long seq, int members, Long lastTime) { }
