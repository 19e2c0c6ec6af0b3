// The message order of one room, kept apart from the socket and the page so that it can be
// reasoned about (and run under node) on its own.
//
// `last` is the highest seq shown such that every seq before it was shown too. A message arrives
// from `joined.history`, from a `history` reply or live; whatever its source it goes through
// accept(): a seq at or below `last` is a duplicate and dropped, the next seq is shown at once,
// and a later one waits in `pending` until the gap before it is filled. nextFetch() says which
// `history` request fills the gap, or catches up to `target` (the room's seq when we joined),
// so the page only ever appends, and in seq order.
//
// The same Room serves both transports: a WebSocket `joined` and an HTTP poll reply both go
// through joined() (a poll reply is a `joined` without members), so a switch between them shows
// nothing twice. A reply with `recovered: false` says retention removed some of what we missed:
// the Room then stops waiting for the seqs before `firstSeq`.
//
// Older messages. A Room also remembers the oldest seq it shows (`first`) and pages back before
// it on request (olderRequest(), then older() with the reply) until the room's start or the oldest
// message the server still stores. What older() returns goes above what is shown; everything after
// `first` stays only ever appended.

export class Room {
  constructor(name, show) {
    this.name = name;
    this.show = show;
    this.last = null; // null until the first `joined`: then we take the server's recent history
    this.target = 0;
    this.pending = new Map();
    this.fetching = false;
    this.first = null; // the oldest seq shown
    this.firstStored = null; // the oldest seq the server still stores (`firstSeq`)
    this.fetchingOlder = false;
    this.atStart = false; // nothing older is left to page back to
  }

  joinRequest() {
    const request = { type: 'join', room: this.name };
    if (this.last !== null) request.since = this.last;
    return request;
  }

  joined(reply) {
    if (this.last === null) {
      // A first join carries the latest messages, not the room's start: begin just before them.
      this.last = reply.history.length > 0 ? reply.history[0].seq - 1 : reply.seq;
    } else if (reply.recovered === false) {
      this.lost(reply.firstSeq ?? reply.history[0]?.seq ?? reply.seq + 1);
    }
    this.target = Math.max(this.target, reply.seq);
    this.fetching = false; // a request made on an earlier connection will never be answered
    this.fetchingOlder = false;
    if (Number.isFinite(reply.firstSeq)) this.firstStored = reply.firstSeq;
    for (const message of reply.history) this.accept(message);
  }

  accept(message) {
    if (message.seq <= this.last || this.pending.has(message.seq)) return;
    this.pending.set(message.seq, message);
    this.#showReady();
  }

  history(reply) {
    this.fetching = false;
    if (reply.recovered === false) this.lost(reply.firstSeq ?? reply.messages[0]?.seq ?? this.last + 1);
    const before = this.last;
    for (const message of reply.messages) this.accept(message);
    // A reply that fills nothing means the server no longer has what is missing; asking again
    // would loop forever.
    if (this.last === before) this.skipGap();
  }

  // Shows whatever is waiting, in order, and stops trying to fill what is missing before it.
  skipGap() {
    this.fetching = false;
    for (const seq of [...this.pending.keys()].sort((a, b) => a - b)) {
      this.#show(this.pending.get(seq));
      this.last = seq;
    }
    this.pending.clear();
    this.target = this.last;
  }

  // The server no longer stores the seqs before `firstSeq`: show what we hold of them, in order,
  // and stop waiting for the rest.
  lost(firstSeq) {
    if (firstSeq - 1 <= this.last) return;
    for (const seq of [...this.pending.keys()].sort((a, b) => a - b)) {
      if (seq >= firstSeq) break;
      this.#show(this.pending.get(seq));
      this.pending.delete(seq);
    }
    this.last = firstSeq - 1;
    this.#showReady();
  }

  #showReady() {
    for (let next; (next = this.pending.get(this.last + 1)); ) {
      this.pending.delete(next.seq);
      this.last = next.seq;
      this.#show(next);
    }
  }

  #show(message) {
    if (this.first === null || message.seq < this.first) this.first = message.seq;
    this.show(message);
  }

  // Whether there may be messages before the oldest shown.
  get olderLeft() {
    return !(this.atStart || this.first === null || this.first <= 1
      || (this.firstStored !== null && this.first <= this.firstStored));
  }

  // The `history` request for the page before the oldest shown, or null if there is none to ask
  // for (one in flight, nothing shown yet, or the start reached).
  olderRequest(limit = 50) {
    if (this.fetchingOlder || this.first === null) return null;
    if (!this.olderLeft) {
      this.atStart = true;
      return null;
    }
    this.fetchingOlder = true;
    return { type: 'history', room: this.name, before: this.first, limit };
  }

  // A reply to olderRequest(): the messages before `first`, oldest first, to show above the rest.
  older(reply, limit = 50) {
    this.fetchingOlder = false;
    const messages = (reply.messages ?? []).filter((m) => this.first === null || m.seq < this.first)
      .sort((a, b) => a.seq - b.seq);
    if (Number.isFinite(reply.firstSeq)) this.firstStored = reply.firstSeq;
    if (messages.length > 0) this.first = messages[0].seq;
    if (messages.length < limit || this.first <= 1 || (this.firstStored !== null && this.first <= this.firstStored)) {
      this.atStart = true;
    }
    return messages;
  }

  // The reply to olderRequest() will not come (refused, or the connection dropped).
  olderRefused() {
    this.fetchingOlder = false;
  }

  // The `history` request in flight was refused for now (rate_limited): nextFetch() may ask again.
  fetchRefused() {
    this.fetching = false;
  }

  nextFetch() {
    if (this.fetching || this.caughtUp) return null;
    this.fetching = true;
    return { type: 'history', room: this.name, since: this.last, limit: 500 };
  }

  get caughtUp() {
    return !this.fetching && this.pending.size === 0 && this.last >= this.target;
  }
}
