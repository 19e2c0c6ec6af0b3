// What moderation means for the page (issue 12, "Browser client"), kept pure so that node can test
// it: applying `deleted` and `cleared` events to the lines shown, the words for tombstones and for
// being taken out of a room, what a refused send says about the room (banned, timed out until when),
// and who may moderate a room. app.js calls these; view.js draws what they return.
//
// A tombstone is a message without `text` and with `deleted: {by, at}` (docs/PROTOCOL.md,
// "Moderation"); the server hands them so in every reply, and the `deleted`/`cleared` events turn
// a message already shown into one. Either way the page shows the same line.

const MODERATING_ROLES = new Set(['owner', 'moderator']);

// The message as a tombstone: no text, who deleted it and when. One already deleted keeps its own
// `by` and `at` (a `cleared` after a `deleted` does not rewrite them).
export function tombstone(message, by, at) {
  if (message.deleted) return message;
  const { text: _gone, ...rest } = message;
  return { ...rest, deleted: { by: String(by ?? ''), at: Number.isFinite(at) ? at : null } };
}

// Applies a `deleted` ({seq}) or `cleared` ({upTo}) event to `lines` (app.js's per-room lines,
// { kind: 'message', msg }) and to `pending` (Room's map of seq -> message not yet shown). Returns
// whether a shown line changed, so the page redraws only then.
export function applyDeletion(event, lines, pending = new Map()) {
  const hit = event.type === 'cleared'
    ? (seq) => seq <= event.upTo
    : (seq) => seq === event.seq;
  let changed = false;
  for (const line of lines) {
    if (line.kind !== 'message' || !hit(line.msg.seq) || line.msg.deleted) continue;
    line.msg = tombstone(line.msg, event.by, event.at);
    changed = true;
  }
  for (const [seq, message] of pending) if (hit(seq)) pending.set(seq, tombstone(message, event.by, event.at));
  return changed;
}

// What a tombstone shows instead of its text.
export function deletedText(deleted) {
  return deleted?.by ? `message deleted by ${deleted.by}` : 'message deleted';
}

// Why the server took this page out of a room (`removed`).
export function removedText(room, reason) {
  if (reason === 'banned') return `You were banned from ${room}.`;
  if (reason === 'access_revoked') return `Your access to ${room} was revoked.`;
  return `You were taken out of ${room}.`;
}

// HH:MM:SS of a moment, in the reader's time zone.
export function clockSeconds(ms) {
  const date = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

// A refused send that says something about the room rather than the message: { code, until, text }
// (`until` ms since the epoch, null for no end), or null for any other refusal. A timeout without
// `until` ends `retryAfter` ms after `now`.
export function sendBlock(error, now) {
  if (error.code === 'banned') {
    return { code: 'banned', until: null, text: `You are banned from ${error.room ?? 'this room'}.` };
  }
  if (error.code === 'timed_out') {
    const until = Number.isFinite(error.until) ? error.until
      : Number.isFinite(error.retryAfter) ? now + error.retryAfter : null;
    return timeoutBlock(error.room, until);
  }
  return null;
}

// The block of a timeout in `room` ending at `until` (ms since the epoch; null: end unknown).
export function timeoutBlock(room, until) {
  const end = until === null ? '' : ` until ${clockSeconds(until)}`;
  return { code: 'timed_out', until, text: `You are timed out in ${room ?? 'this room'}${end}: you may read, not send.` };
}

// What the server says of our own timeout in a room, unasked: a `moderated` event with action
// `timeout` and our user id (`until`, 0 when lifted), or `joined` with `timedOutUntil` (absent: none).
// Returns the block that holds now, or null for none; undefined when `msg` says nothing of it.
export function ownTimeout(msg, me, now) {
  let until;
  if (msg.type === 'moderated') {
    if (msg.action !== 'timeout' || msg.user !== me || !Number.isFinite(msg.until)) return undefined;
    until = msg.until;
  } else if (msg.type === 'joined') {
    until = Number.isFinite(msg.timedOutUntil) ? msg.timedOutUntil : 0;
  } else {
    return undefined;
  }
  return until > now ? timeoutBlock(msg.room, until) : null;
}

// Whether a block still holds at `now` (a ban until lifted, a timeout until its end).
export function blocking(block, now) {
  return block !== null && block !== undefined && (block.until === null || block.until > now);
}

// Whether this user may moderate a room: a server admin (`welcome.roles`), or the room's owner or
// moderator (the `rooms` answer's `role`). The server checks again; this only decides what to offer.
export function mayModerate(roomRole, roles) {
  return (Array.isArray(roles) && roles.includes('admin')) || MODERATING_ROLES.has(roomRole);
}
