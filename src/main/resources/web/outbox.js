// The messages this page has accepted from its user and not yet seen stored: the outbox that never
// drops (issue 11). Pure: app.js asks it what to send, reports what the server answered, and
// saves it (sessionStorage) so that a reload sends what was still pending.
//
// Order. The server orders a room's messages as they arrive; a message refused for now
// (`rate_limited`, or `slow_mode` in a slowed room) and sent again later would land behind the ones sent after it. So per room at
// most one message is in flight: the next goes out once the one before is acknowledged. A burst of
// a hundred therefore arrives in order, at whatever pace the server's limits allow, each refusal
// waiting the `retryAfter` the server asked for.
//
// Ids. Every message keeps its id for life. A message in flight when the connection drops goes out
// again on the next one with the same id, and the server, which stores an id once per (room, user),
// answers a repeat with the first ack: nothing is stored twice.
//
// States: 'queued' (waiting for its turn or for `notBefore`), 'sending' (in flight), 'sent'
// (acknowledged with a seq; dropped once the room shows that seq), 'failed' (refused for good, or
// given up by the user's choice; kept with its reason until retried or discarded; it does not hold
// back the messages after it).

const KEEP_ERRORS = new Set(['rate_limited', 'slow_mode', 'overloaded', 'store_unavailable', 'shutting_down', 'network']);

export class Outbox {
  constructor(prefix, saved = null) {
    this.prefix = prefix;
    this.serial = 0;
    this.entries = []; // in the order the user wrote them
    for (const entry of saved?.entries ?? []) {
      if (typeof entry?.id !== 'string' || typeof entry.room !== 'string' || typeof entry.text !== 'string') continue;
      // Whatever was in flight when the page went away may or may not have arrived: send it again.
      const state = entry.state === 'failed' ? 'failed' : entry.state === 'sent' ? 'sent' : 'queued';
      this.entries.push({ id: entry.id, room: entry.room, text: entry.text, state, seq: entry.seq ?? null,
        error: entry.error ?? null, notBefore: 0 });
    }
  }

  add(room, text) {
    this.serial += 1;
    const entry = { id: `${this.prefix}-${this.serial}`, room, text, state: 'queued', seq: null, error: null, notBefore: 0 };
    this.entries.push(entry);
    return entry;
  }

  get(id) {
    return this.entries.find((entry) => entry.id === id) ?? null;
  }

  // The entry of `room` to send now, or null: its oldest unsettled one, if that is queued and due.
  // A 'sending' entry blocks the room until answered.
  next(room, now) {
    for (const entry of this.entries) {
      if (entry.room !== room || entry.state === 'failed' || entry.state === 'sent') continue;
      return entry.state === 'queued' && entry.notBefore <= now ? entry : null;
    }
    return null;
  }

  // Rooms with something to send, in first-entry order.
  rooms() {
    return [...new Set(this.entries.filter((e) => e.state === 'queued' || e.state === 'sending').map((e) => e.room))];
  }

  sending(id) {
    const entry = this.get(id);
    if (entry) entry.state = 'sending';
    return entry;
  }

  // The server stored it as `seq` (an ack); it stays shown as sent until the room shows that seq.
  acked(id, seq) {
    const entry = this.get(id);
    if (!entry || entry.state === 'failed') return null;
    entry.state = 'sent';
    entry.seq = seq ?? null;
    return entry;
  }

  // The room shows every seq up to `last`: drop what it shows. An entry whose own message was seen
  // (same id, from us) is settled too, ack or not.
  settle(room, last, seenIds = []) {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => !(e.room === room
      && ((e.state === 'sent' && e.seq !== null && e.seq <= last) || (e.state !== 'failed' && seenIds.includes(e.id)))));
    return this.entries.length !== before;
  }

  // The server refused it. For now (a code in KEEP_ERRORS): queued again, not before now + retryAfter.
  // For good: failed, with the reason, until the user retries or discards it.
  refused(id, code, message, retryAfterMs, now) {
    const entry = this.get(id);
    if (!entry) return null;
    if (KEEP_ERRORS.has(code)) {
      entry.state = 'queued';
      entry.notBefore = now + Math.max(0, retryAfterMs ?? 0);
    } else {
      entry.state = 'failed';
      entry.error = { code, message: message ?? code };
    }
    return entry;
  }

  // The user asks to send a failed message again: it goes behind what its room has queued now.
  retry(id) {
    const entry = this.get(id);
    if (!entry || entry.state !== 'failed') return null;
    this.entries = this.entries.filter((e) => e !== entry);
    entry.state = 'queued';
    entry.error = null;
    entry.notBefore = 0;
    this.entries.push(entry);
    return entry;
  }

  discard(id) {
    this.entries = this.entries.filter((e) => e.id !== id);
  }

  // The connection dropped: what was in flight is sent again on the next one (same id).
  requeueInFlight() {
    for (const entry of this.entries) if (entry.state === 'sending') entry.state = 'queued';
  }

  // When the earliest waiting entry is due, or null if none waits.
  nextDue(now) {
    const due = this.entries.filter((e) => e.state === 'queued' && e.notBefore > now).map((e) => e.notBefore);
    return due.length > 0 ? Math.min(...due) : null;
  }

  // The entries of `room` not yet shown by the room, in order, for the page.
  pending(room) {
    return this.entries.filter((e) => e.room === room);
  }

  // Drops everything of a room the user left.
  forget(room) {
    this.entries = this.entries.filter((e) => e.room !== room);
  }

  toJSON() {
    return { entries: this.entries.map(({ id, room, text, state, seq, error }) => ({ id, room, text, state, seq, error })) };
  }
}
