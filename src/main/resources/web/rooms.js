// The rooms this page is in, the one shown, unread counts, and the rooms the server lists (with our
// role in each)
// (`GET /api/rooms` or the WebSocket `rooms` request). Pure: app.js keeps one RoomList in its state,
// saves `saved()` in localStorage so that a reload joins the same rooms without a click, and asks
// entries() what the room list shows.

const MAX_JOINED = 20; // below the server's default maxRooms; the server's own limit still applies

export class RoomList {
  constructor(saved = null) {
    const joined = Array.isArray(saved?.joined) ? saved.joined.filter((r) => typeof r === 'string') : [];
    this.joined = [...new Set(joined)].slice(0, MAX_JOINED);
    this.active = this.joined.includes(saved?.active) ? saved.active : (this.joined[0] ?? null);
    this.unread = new Map();
    this.listed = []; // [{ room, seq, members, lastTime }] as the server last listed them
  }

  // Joins (or shows, if already in) a room; it becomes the one shown. Returns whether it is new.
  join(room) {
    const fresh = !this.joined.includes(room);
    if (fresh) this.joined.push(room);
    this.show(room);
    return fresh;
  }

  leave(room) {
    this.joined = this.joined.filter((r) => r !== room);
    this.unread.delete(room);
    if (this.active === room) this.active = this.joined[0] ?? null;
  }

  show(room) {
    this.active = room;
    this.unread.delete(room);
  }

  // A message arrived in `room`. It is unread unless it is ours or shown in front of the reader.
  arrived(room, { ours = false, seen = false } = {}) {
    if (ours || (seen && room === this.active)) return;
    this.unread.set(room, (this.unread.get(room) ?? 0) + 1);
  }

  // The page came back into view: what the shown room got meanwhile is read now.
  seen() {
    if (this.active !== null) this.unread.delete(this.active);
  }

  unreadIn(room) {
    return this.unread.get(room) ?? 0;
  }

  // Keeps only well-formed entries of a `rooms` answer.
  listing(rooms) {
    this.listed = (Array.isArray(rooms) ? rooms : [])
      .filter((r) => typeof r?.room === 'string')
      .map((r) => ({ room: r.room, members: Number.isFinite(r.members) ? r.members : null,
        lastTime: Number.isFinite(r.lastTime) ? r.lastTime : null, role: typeof r.role === 'string' ? r.role : null }));
  }

  // Our role in a room as the server last listed it (`owner`, `moderator`, `member`), or null.
  roleIn(room) {
    return this.listed.find((r) => r.room === room)?.role ?? null;
  }

  // What the list shows: the joined rooms in the order joined, then the listed ones not joined.
  entries() {
    const members = new Map(this.listed.map((r) => [r.room, r.members]));
    const mine = this.joined.map((room) => ({ room, joined: true, active: room === this.active,
      unread: this.unreadIn(room), members: members.get(room) ?? null }));
    const others = this.listed.filter((r) => !this.joined.includes(r.room))
      .map((r) => ({ room: r.room, joined: false, active: false, unread: 0, members: r.members }));
    return [...mine, ...others];
  }

  saved() {
    return { joined: this.joined, active: this.active };
  }
}
