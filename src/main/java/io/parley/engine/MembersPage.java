package io.parley.engine;

import java.util.List;

/**
 * One page of a room's member listing ({@link Broker#members}).
 *
 * @param members how many connections are in the room now
 * @param names   the members' names, in the order they joined; a user connected twice is listed twice
 * @param next    the cursor for the next page, or -1 when this page reached the end
 */
public record MembersPage(int members, List<String> names, long next) { }
