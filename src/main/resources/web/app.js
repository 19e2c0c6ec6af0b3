// Parley's browser client: one name, any number of rooms, on one connection (connection.js). This
// file holds the page's one state object and wires the modules together; each module says what it
// does at its head:
//   connection.js  WebSocket or long polling, reconnects and backoff
//   room.js        one room's message order: dedupe, gaps, catching up, paging back
//   outbox.js      what the user wrote and the server has not stored yet: ordered, never dropped
//   presence.js    who is in a room, counted per name
//   rooms.js       the rooms joined, the one shown, unread counts, the server's room list
//   format.js      code points, links, days
//   moderation.js  tombstones, bans and timeouts as the page shows them, who may moderate
//   tokens.js      where the token comes from and what it says
//   session.js     keeping the token fresh: the signed-in session's, or the framing site's
//   api.js         the HTTP API
//   view.js        everything drawn, through DOM nodes and textContent only
//
// Every message, whether from `joined.history`, a `history` reply, a poll reply or live, goes
// through its Room's accept(), which shows each seq once and in order. A room is `synced` once it
// has caught up on the current transport; only then does the outbox send into it, one message in
// flight per room (outbox.js says why).
//
// Tokens. A token in the page's address (#token=… or ?token=…) makes us a user instead of a guest;
// without one, a page in a frame asks its parent (postMessage, session.js), and every page asks the
// server for its signed-in session's token (POST /api/session/token: 200 signed in, 401 a guest who
// may sign in, 404 a server without accounts). A token goes on the WebSocket URL as ?token=
// (browsers cannot set headers on a WebSocket) and in an Authorization header to the API.
//
// Fresh tokens. A connection opened with a token ends (1008) when the token expires; session.js
// keeps the token fresh (a signed-in session's, or a framing site's: frame.contentWindow.postMessage(
// { type: 'parley:token', token }, parleyOrigin)), and each fresh one goes to the server as `refresh`
// (no reconnect) and serves every later reconnect and API request.

import { Api, ApiError, signOut } from './api.js';
import { Connection, STOP_ON, connectionState } from './connection.js';
import { codePoints } from './format.js';
import { applyDeletion, blocking, clockSeconds, mayModerate, ownTimeout, removedText, sendBlock } from './moderation.js';
import { Outbox } from './outbox.js';
import { Presence } from './presence.js';
import { Room } from './room.js';
import { RoomList } from './rooms.js';
import { TokenKeeper } from './session.js';
import * as tokens from './tokens.js';
import * as view from './view.js';

const OLDER_PAGE = 50;
const ROOM_LIST_LIMIT = 100;
const ROOM_LIST_EVERY_MS = 60_000;
const RATE_RETRY_MS = 2_000;
const MEMBERS_OVER_HTTP_EVERY_MS = 15_000;
const MEMBERS_FIRST_MS = 1_000; // after the first polls, which make a named poller a member
const LINES_KEPT = 5_000; // per room; older lines are dropped from memory (and page back again)
const embedded = window.parent !== window;

const $ = (id) => document.getElementById(id);
const nameInput = $('name');
const roomInput = $('room');
const textInput = $('text');

// crypto.randomUUID needs a secure context; a random prefix and a counter work over plain http too.
const pagePrefix = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

// The page's whole state. Timers live beside what they serve (connection.timers, tokens.timer,
// outbox timer) so that leaving clears them in one place.
const state = {
  connection: connectionState(),
  outbox: new Outbox(pagePrefix, load(sessionStorage, 'outbox')),
  outboxTimer: null,
  rooms: {
    list: new RoomList(load(localStorage, 'rooms')),
    byName: new Map(), // room -> { room: Room, presence, lines, members, synced, counting, listing }
  },
  tokens: {
    token: tokens.fromAddress(location.hash, location.search),
    source: null, // 'address', 'frame' or 'session'
    validUntil: null,
    timer: null,
    accounts: false, // the server has accounts (POST /api/session/token answered 401 or 200)
  },
  me: { name: '', user: null, roles: [] }, // `user`: the `welcome`'s, or, while polling, the token's `sub` or `guest:<name>`; `roles` the welcome's (admin)
  limits: { maxLength: 2000 },
  listTimer: null,
  membersTimer: null, // while polling: reads the shown room's members over HTTP
  followNewest: true, // the newest message is in view: keep it there when the page shrinks
};
if (state.tokens.token) state.tokens.source = 'address';

const api = new Api('', state.tokens.token);
const connection = new Connection(state.connection, {
  url: () => {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const query = state.tokens.token ? `?token=${encodeURIComponent(state.tokens.token)}` : '';
    return `${scheme}://${location.host}/chat${query}`;
  },
  opened: () => connection.send(state.tokens.token ? { type: 'hello' } : { type: 'hello', name: state.me.name }),
  message: handle,
  transport: transportChanged,
  status: view.status,
  polled,
  rooms: () => state.rooms.list.joined,
  since: (room) => roomState(room).room.last,
  caughtUp: (room) => roomState(room).room.caughtUp,
  tokenExpired: () => keeper.expired(),
  stopped: (code) => stop(`stopped: ${code}`, code),
  api,
});

// ---- storage: refused storage (blocked cookies, some private modes) only makes the page forget

function load(storage, key) {
  try {
    return JSON.parse(storage.getItem(`parley.${key}`) ?? 'null');
  } catch {
    return null;
  }
}

function save(storage, key, value) {
  try {
    storage.setItem(`parley.${key}`, typeof value === 'string' ? value : JSON.stringify(value));
  } catch {
    // see load()
  }
}

function recall(key) {
  try {
    return localStorage.getItem(`parley.${key}`);
  } catch {
    return null;
  }
}

function saveRooms() {
  save(localStorage, 'rooms', state.rooms.list.saved());
}

// ---- rooms

function roomState(name) {
  let rs = state.rooms.byName.get(name);
  if (!rs) {
    // block: why we may not send here now ({ code, until, text } from moderation.js), or null
    rs = { room: null, presence: new Presence(), lines: [], members: null, synced: false, counting: false, block: null };
    rs.room = new Room(name, (message) => shown(name, message));
    state.rooms.byName.set(name, rs);
  }
  return rs;
}

function isActive(name) {
  return state.rooms.list.active === name;
}

// Ours by user id only: a guest may take our name (or one that looks like it), never our id; and a
// message with the id of one of our sends is ours only if it is from us.
function shown(name, message) {
  const rs = roomState(name);
  const ours = state.me.user !== null && message.user === state.me.user;
  const previous = rs.lines.findLast((line) => line.kind === 'message');
  const line = { kind: 'message', msg: message, ours };
  rs.lines.push(line);
  if (rs.lines.length > LINES_KEPT) {
    rs.lines.splice(0, rs.lines.length - LINES_KEPT);
    rs.room.atStart = false;
    rs.room.first = rs.lines.find((l) => l.kind === 'message')?.msg.seq ?? rs.room.first;
  }
  if (isActive(name)) {
    view.appendLine(line, previous?.msg.time ?? null, ours, moderating(name));
    if (previous === undefined) view.olderState(olderState(rs)); // the first message: is there more before it?
  }
  if (state.outbox.settle(name, rs.room.last, ours ? [message.id] : [])) {
    outboxChanged();
    pump(name); // its ack may never find it now: the next goes out on seeing the message
  }
  if (rs.counting) {
    state.rooms.list.arrived(name, { ours, seen: document.visibilityState === 'visible' });
    drawRoomList();
  }
}

function presenceLine(name, text) {
  const rs = roomState(name);
  const line = { kind: 'presence', text };
  rs.lines.push(line);
  if (isActive(name)) view.appendLine(line, null);
}

function drawRoomList() {
  const list = state.rooms.list;
  view.rooms(list.entries());
  view.unreadTotal([...list.unread.values()].reduce((a, b) => a + b, 0));
}

function drawActiveRoom(keepPlace = false) {
  const name = state.rooms.list.active;
  const rs = name === null ? null : roomState(name);
  view.showRoom(name, rs?.lines ?? [], olderState(rs), keepPlace, name !== null && moderating(name));
  view.roomSettings(name !== null && moderating(name), null, name !== null && ownsRoom(name));
  drawBlock();
  view.members(rs?.members ?? null);
  view.memberNames(rs?.presence.list() ?? []);
  drawOutbox();
  drawSendButton();
}

function olderState(rs) {
  if (!rs || rs.room.first === null) return 'none';
  if (!rs.room.olderLeft) return 'start';
  return rs.room.fetchingOlder ? 'loading' : 'more';
}

function drawSendButton() {
  const name = state.rooms.list.active;
  view.sendEnabled(state.connection.wanted && name !== null && !blocking(roomState(name).block, Date.now()));
}

// Whether this page offers moderation in a room (the server decides again on each request).
function moderating(name) {
  return mayModerate(state.rooms.list.roleIn(name), state.me.roles);
}

// The shown room's ban or timeout, if one holds; a timeout lifts itself at its end.
let blockTimer = null;
function drawBlock() {
  clearTimeout(blockTimer);
  const name = state.rooms.list.active;
  const rs = name === null ? null : state.rooms.byName.get(name);
  const now = Date.now();
  if (rs && rs.block && !blocking(rs.block, now)) rs.block = null;
  view.roomBlock(rs?.block?.text ?? null);
  drawSendButton();
  if (rs?.block?.until) blockTimer = setTimeout(drawBlock, Math.min(rs.block.until - now, 2 ** 31 - 1));
}

// Whether this page offers a room's settings: its owner's or an admin's to change.
function ownsRoom(name) {
  return state.rooms.list.roleIn(name) === 'owner' || state.me.roles.includes('admin');
}

function moderatingActive() {
  const name = state.rooms.list.active;
  return name !== null && moderating(name);
}

// A room's record: the answer to our `create` (join the room made), `room_settings` or `set`.
function roomRecord(msg) {
  if (msg.ref === 'create') {
    joinRoom(msg.room);
    connection.send({ type: 'rooms', limit: ROOM_LIST_LIMIT, ref: 'rooms' }); // our role in it: owner
    return;
  }
  if (msg.room === state.rooms.list.active) view.roomSettings(moderating(msg.room), msg, ownsRoom(msg.room));
  const [change, user] = typeof msg.ref === 'string' ? msg.ref.split(/:(.*)/s) : [];
  if (change === 'invite') view.notice(`${user} is a member of ${msg.room}.`);
  else if (change === 'revoke') view.notice(`${user} is no longer a member of ${msg.room}.`);
  if (msg.ref === 'set') view.notice(`${msg.room}: ${msg.kind}, ${msg.write === 'everyone' ? 'everyone writes' : `${msg.write.replace('_', ' ')} write`}.`);
}

// The answer to our ban, timeout or slow mode: said once it is stored. Without `ref`, the server
// telling us our own timeout was set or lifted (a reply to us about ourselves does the same).
function moderated(msg) {
  if (typeof msg.room === 'string' && state.rooms.byName.has(msg.room)) {
    const own = ownTimeout(msg, state.me.user, Date.now());
    if (own !== undefined) {
      timedOut(msg.room, own);
      if (msg.ref === undefined) return;
    }
  }
  if (msg.action === 'slow') {
    view.notice(msg.seconds > 0 ? `${msg.room}: slow mode, one message per ${msg.seconds} s.` : `${msg.room}: slow mode off.`);
    return;
  }
  if (msg.action === 'timeout' && Number.isFinite(msg.until)) view.notice(`${msg.user} is timed out of ${msg.room} until ${clockSeconds(msg.until)}.`);
  else if (msg.action === 'ban') view.notice(`${msg.user} is banned from ${msg.room}.`);
}

// A moderator's action on a message of the shown room (view.js draws the buttons), after the
// moderator confirms it. WebSocket only: while polling, the page says so.
function moderate(action, seq, user) {
  const room = state.rooms.list.active;
  if (room === null) return;
  const [kind, seconds] = action.split('-');
  const question = kind === 'delete' ? `Delete message ${seq} in ${room}?`
    : kind === 'ban' ? `Ban ${user} from ${room}?`
    : `Time out ${user} in ${room} for ${Number(seconds) >= 60 && Number(seconds) % 60 === 0 ? `${Number(seconds) / 60} min` : `${seconds} s`}?`;
  if (!window.confirm(question)) return;
  const request = kind === 'delete' ? { type: 'delete', room, seq }
    : kind === 'ban' ? { type: 'ban', room, user }
    : { type: 'timeout', room, user, seconds: Number(seconds) };
  if (state.connection.transport !== 'websocket' || !connection.send({ ...request, ref: 'moderate' })) {
    view.notice('Moderation needs the WebSocket connection; try again once connected.');
  }
}

// A moderator deleted messages of a room we are in: the lines shown lose their text.
function deletion(msg) {
  const rs = roomState(msg.room);
  if (applyDeletion(msg, rs.lines, rs.room.pending) && isActive(msg.room)) drawActiveRoom(true);
}

// The server took us out of a room (banned, access revoked): it leaves the page, with the reason.
function removed(msg) {
  connection.unpollRoom(msg.room);
  state.rooms.list.leave(msg.room);
  state.rooms.byName.delete(msg.room);
  state.outbox.forget(msg.room);
  saveOutbox();
  saveRooms();
  const why = removedText(msg.room, msg.reason);
  if (state.rooms.list.joined.length === 0) stop(why);
  else {
    drawRoomList();
    drawActiveRoom();
    drawStatus();
  }
  view.notice(why, true);
}

// The status line says `connected` once every room has caught up on the current transport.
function drawStatus() {
  if (!state.connection.wanted || state.connection.transport === 'none') return;
  const behind = state.rooms.list.joined.filter((name) => !roomState(name).synced);
  if (behind.length === 0) view.status('connected', 'connected');
  else view.status(`joining ${behind.join(', ')}…`, 'connecting');
}

// Joins a room (or shows it, if already in): over the WebSocket at once, while polling with its own
// loop, and otherwise when the connection comes.
function joinRoom(name) {
  const fresh = state.rooms.list.join(name);
  saveRooms();
  roomState(name);
  if (fresh) {
    if (state.connection.transport === 'websocket') connection.send(roomState(name).room.joinRequest());
    else connection.pollRoom(name);
  }
  drawRoomList();
  drawActiveRoom();
  drawStatus();
  if (!state.connection.wanted) connection.connect();
}

function showRoom(name) {
  state.rooms.list.show(name);
  saveRooms();
  drawRoomList();
  drawActiveRoom();
  if (state.connection.transport === 'longpoll') membersOverHttp(name);
}

function leaveRoom(name) {
  if (state.connection.transport === 'websocket') connection.send({ type: 'leave', room: name });
  connection.unpollRoom(name);
  state.rooms.list.leave(name);
  state.rooms.byName.delete(name);
  state.outbox.forget(name);
  saveOutbox();
  saveRooms();
  if (state.rooms.list.joined.length === 0) {
    stop('disconnected');
    return;
  }
  drawRoomList();
  drawActiveRoom();
  drawStatus();
}

// ---- catching up

// Asks for the next page of missing messages, or, once there is none, opens the room for sending.
function fill(name) {
  const rs = roomState(name);
  const request = rs.room.nextFetch();
  if (request) connection.send(request);
  else if (!rs.synced && rs.room.caughtUp) ready(name);
}

// The room has caught up on the current transport: what arrives from now on is news (unread), and
// the outbox may send into it.
function ready(name) {
  const rs = roomState(name);
  rs.synced = true;
  rs.counting = true;
  if (state.outbox.settle(name, rs.room.last)) outboxChanged();
  drawStatus();
  pump(name);
}

function polled(name, reply) {
  if (!state.rooms.byName.has(name)) return;
  const rs = roomState(name);
  const messages = reply.messages ?? [];
  noteRecovery(reply);
  rs.room.joined({ ...reply, seq: reply.seq ?? messages.at(-1)?.seq ?? rs.room.last ?? 0, history: messages });
  if (isActive(name)) view.olderState(olderState(rs));
  if (!rs.synced && rs.room.caughtUp) ready(name);
}

// The HTTP API reports no presence as it happens: while polling, the shown room's member list is
// read every few seconds instead, and replaced silently (no joined/left lines, which only the
// WebSocket can time).
function pollMembers(polling) {
  clearInterval(state.membersTimer);
  if (!polling) return;
  const read = () => {
    if (state.rooms.list.active !== null) membersOverHttp(state.rooms.list.active);
  };
  setTimeout(read, MEMBERS_FIRST_MS);
  state.membersTimer = setInterval(read, MEMBERS_OVER_HTTP_EVERY_MS);
}

async function membersOverHttp(name) {
  const rs = roomState(name);
  const names = [];
  let members = null;
  try {
    let after = null;
    do {
      const page = await api.members(name, after, 1000);
      names.push(...(Array.isArray(page.names) ? page.names : []));
      members = page.members;
      after = Number.isFinite(page.next) ? page.next : null;
    } while (after !== null);
  } catch {
    return; // the next poll asks again later
  }
  if (state.rooms.byName.get(name) !== rs || state.connection.transport !== 'longpoll') return;
  rs.presence.reset(names);
  rs.members = members;
  if (isActive(name)) {
    view.members(members);
    view.memberNames(rs.presence.list());
  }
}

// A `joined` or a poll reply may say that some of what we missed is gone (retention).
function noteRecovery(reply) {
  if (reply.recovered === false) view.notice('Some older messages are no longer stored on the server; they are missing here.');
}

function transportChanged(name) {
  view.transport(name);
  // Each room catches up on the new transport before sending on it (a room not yet joined on a
  // WebSocket would refuse a send), and whatever was in flight on the old one is sent again, with
  // its id, once it has.
  for (const rs of state.rooms.byName.values()) rs.synced = false;
  state.outbox.requeueInFlight();
  pollMembers(name === 'longpoll');
  if (name === 'longpoll') {
    state.me.user = state.tokens.token ? tokens.claim(state.tokens.token, 'sub') || null : `guest:${state.me.name}`;
  }
}

// ---- paging back

function older() {
  const name = state.rooms.list.active;
  if (name === null) return;
  const rs = roomState(name);
  const request = rs.room.olderRequest(OLDER_PAGE);
  if (!request) return;
  view.olderState('loading');
  if (state.connection.transport === 'websocket') {
    if (!connection.send({ ...request, ref: 'older' })) rs.room.olderRefused();
  } else {
    api.older(name, request.before, OLDER_PAGE).then((reply) => gotOlder(name, reply), () => {
      rs.room.olderRefused();
      if (isActive(name)) view.olderState(olderState(rs));
    });
  }
}

function gotOlder(name, reply) {
  const rs = state.rooms.byName.get(name);
  if (!rs) return;
  const messages = rs.room.older(reply, OLDER_PAGE);
  const lines = messages.map((msg) => ({ kind: 'message', msg, ours: state.me.user !== null && msg.user === state.me.user }));
  rs.lines.unshift(...lines);
  if (isActive(name)) drawActiveRoom(true);
}

// ---- the outbox

function outboxChanged() {
  saveOutbox();
  drawOutbox();
}

function saveOutbox() {
  save(sessionStorage, 'outbox', state.outbox);
}

function drawOutbox() {
  const name = state.rooms.list.active;
  view.outbox(name === null ? [] : state.outbox.pending(name));
}

// Sends the next message of each room that may send now, and plans a wake-up for the next one due.
function pumpAll() {
  for (const name of state.outbox.rooms()) pump(name);
}

function pump(name) {
  const rs = state.rooms.byName.get(name);
  if (!rs || !rs.synced) return;
  const now = Date.now();
  const entry = state.outbox.next(name, now);
  if (entry) {
    const { transport } = state.connection;
    if (transport === 'websocket') {
      if (connection.send({ type: 'send', room: name, id: entry.id, text: entry.text })) state.outbox.sending(entry.id);
    } else if (transport === 'longpoll') {
      state.outbox.sending(entry.id);
      api.send(name, entry.id, entry.text).then((ack) => acknowledged(ack), (error) => {
        if (error instanceof ApiError && error.status < 500) {
          refused(entry.id, error.code, error.message, error.retryAfterMs,
            sendBlock({ code: error.code, room: name, until: error.until, retryAfter: error.retryAfterMs }, Date.now()));
        }
        else refused(entry.id, 'network', String(error), RATE_RETRY_MS);
      });
    }
    outboxChanged();
  }
  planPump(now);
}

function planPump(now) {
  clearTimeout(state.outboxTimer);
  const due = state.outbox.nextDue(now);
  if (due !== null) state.outboxTimer = setTimeout(pumpAll, due - now);
}

function acknowledged(ack) {
  const entry = state.outbox.acked(ack.id, ack.seq);
  if (!entry) return; // already settled by its own message, which sent the next
  const rs = state.rooms.byName.get(entry.room);
  if (rs) state.outbox.settle(entry.room, rs.room.last);
  outboxChanged();
  pump(entry.room);
}

// `block`: what the refusal says of the room (sendBlock()), shown beside the composer instead of a notice.
function refused(id, code, message, retryAfterMs, block = null) {
  const entry = state.outbox.refused(id, code, message, retryAfterMs ?? RATE_RETRY_MS, Date.now());
  if (!entry) return;
  if (code === 'rate_limited' || code === 'slow_mode') console.info(`parley: ${code}; next try in ${retryAfterMs} ms`);
  else if (entry.state === 'failed' && !blocked(entry.room, block)) view.notice(`Not sent: ${code}: ${message}`);
  outboxChanged();
  pump(entry.room);
  if (STOP_ON.has(code)) stop(`stopped: ${code}`, code);
}

// Our timeout in a room as the server told it (`moderated` event, `joined`): `block` is the one that
// holds now, or null when none does; a ban learnt otherwise stays.
function timedOut(name, block) {
  const rs = state.rooms.byName.get(name);
  if (!rs || (block === null && rs.block?.code !== 'timed_out')) return;
  rs.block = block;
  if (isActive(name)) drawBlock();
}

// A ban or timeout learnt from a refusal: the room shows it and takes no message until it ends.
function blocked(name, block) {
  const rs = block === null ? null : state.rooms.byName.get(name);
  if (!rs) return false;
  rs.block = block;
  if (isActive(name)) drawBlock();
  return true;
}

// ---- the protocol

// `left` and `pong` need no action; the protocol lets servers add message types, so others are ignored.
function handle(msg) {
  const known = typeof msg.room === 'string' && state.rooms.byName.has(msg.room);
  switch (msg.type) {
    case 'welcome':
      keeper.connectionLasts(msg.validUntil);
      state.limits.maxLength = msg.limits?.maxMessageLength ?? state.limits.maxLength;
      countText();
      state.me.name = msg.name;
      state.me.user = msg.user;
      state.me.roles = Array.isArray(msg.roles) ? msg.roles : [];
      view.offerPrivateRooms(!msg.guest);
      for (const name of state.rooms.list.joined) connection.send(roomState(name).room.joinRequest());
      askForRoomList();
      break;
    case 'joined': {
      if (!known) break;
      connection.webSocketJoined();
      const rs = roomState(msg.room);
      rs.synced = false;
      rs.members = msg.members;
      noteRecovery(msg);
      timedOut(msg.room, ownTimeout(msg, state.me.user, Date.now()));
      rs.room.joined(msg);
      rs.presence.beginListing();
      connection.send({ type: 'members', room: msg.room, limit: 1000 });
      if (!state.rooms.list.listed.some((r) => r.room === msg.room)) connection.send({ type: 'rooms', limit: ROOM_LIST_LIMIT, ref: 'rooms' }); // our role in it
      if (isActive(msg.room)) drawActiveRoom();
      drawStatus();
      fill(msg.room);
      break;
    }
    case 'message':
      if (!known) break;
      roomState(msg.room).room.accept(msg);
      fill(msg.room);
      break;
    case 'history':
      if (!known) break;
      if (msg.ref === 'older') {
        gotOlder(msg.room, msg);
      } else {
        noteRecovery(msg);
        roomState(msg.room).room.history(msg);
        fill(msg.room);
      }
      break;
    case 'members':
      if (!known) break;
      members(msg);
      break;
    case 'presence':
      if (known) presence(msg);
      break;
    case 'rooms': {
      const before = moderatingActive();
      state.rooms.list.listing(msg.rooms);
      drawRoomList();
      if (moderatingActive() !== before) drawActiveRoom(true); // our role changed: actions come or go
      break;
    }
    case 'deleted':
    case 'cleared':
      if (known) deletion(msg);
      break;
    case 'removed':
      if (known) removed(msg);
      break;
    case 'moderated':
      moderated(msg);
      break;
    case 'room':
      roomRecord(msg);
      break;
    case 'ack':
      acknowledged(msg);
      break;
    case 'refreshed':
      console.info(`parley: token refreshed until ${new Date(msg.validUntil).toISOString()}`);
      keeper.connectionLasts(msg.validUntil);
      break;
    case 'error':
      onError(msg);
      break;
  }
}

function members(msg) {
  const rs = roomState(msg.room);
  rs.members = msg.members;
  const last = !Number.isFinite(msg.next);
  rs.presence.page(Array.isArray(msg.names) ? msg.names : [], last);
  if (!last) connection.send({ type: 'members', room: msg.room, after: msg.next, limit: 1000 });
  if (isActive(msg.room)) {
    view.members(rs.members);
    view.memberNames(rs.presence.list());
  }
}

function presence(msg) {
  const rs = roomState(msg.room);
  rs.members = msg.members;
  const { appeared, gone } = rs.presence.change(msg.joined ?? [], msg.left ?? []);
  if (appeared.length > 0) presenceLine(msg.room, `${appeared.join(', ')} joined`);
  if (gone.length > 0) presenceLine(msg.room, `${gone.join(', ')} left`);
  if (isActive(msg.room)) {
    view.members(rs.members);
    view.memberNames(rs.presence.list());
  }
}

function onError(error) {
  if (error.code === 'shutting_down') return; // the close that follows triggers the reconnect
  if (error.ref === 'rooms') {
    askForRoomListOverHttp(); // a server without the WebSocket `rooms` request
    return;
  }
  if (error.request === 'room_settings') return; // a room nobody created has no record: the panel shows the defaults
  if (error.request === 'refresh') {
    // The connection goes on with the token it has, until that one expires.
    view.notice(`The new token was refused (${error.code}: ${error.message}).`);
    return;
  }
  if (error.request === 'send' && state.outbox.get(error.id)) {
    refused(error.id, error.code, error.message, error.retryAfter, sendBlock(error, Date.now()));
    return;
  }
  const known = typeof error.room === 'string' && state.rooms.byName.has(error.room);
  if (error.request === 'history' && error.ref === 'older' && known) {
    const rs = roomState(error.room);
    rs.room.olderRefused();
    if (error.code !== 'rate_limited') rs.room.atStart = true;
    if (isActive(error.room)) view.olderState(olderState(rs));
    return;
  }
  if (error.code === 'rate_limited' && known && (error.request === 'join' || error.request === 'history' || error.request === 'members')) {
    const socket = state.connection.ws;
    setTimeout(() => {
      if (state.connection.ws !== socket || !state.rooms.byName.has(error.room)) return; // gone: the next one asks anew
      const rs = roomState(error.room);
      if (error.request === 'join') connection.send(rs.room.joinRequest());
      else if (error.request === 'members') connection.send({ type: 'members', room: error.room, limit: 1000 });
      else rs.room.fetchRefused();
      fill(error.room);
    }, error.retryAfter ?? RATE_RETRY_MS);
    return;
  }
  if (STOP_ON.has(error.code)) {
    view.notice(`${error.code}: ${error.message}`);
    stop(`stopped: ${error.code}`, error.code);
    return;
  }
  if (error.request === 'join' && known) {
    // This room cannot be joined (a bad name, too many rooms, banned): the others go on.
    view.notice(error.code === 'banned' ? removedText(error.room, 'banned') : `${error.room}: ${error.code}: ${error.message}`,
      error.code === 'banned');
    leaveRoom(error.room);
    return;
  }
  view.notice(`${error.code}: ${error.message}`);
  if (error.request === 'history' && known) {
    roomState(error.room).room.skipGap();
    fill(error.room);
  }
}

// ---- the room list

function askForRoomList() {
  clearInterval(state.listTimer);
  const ask = () => {
    if (!connection.send({ type: 'rooms', limit: ROOM_LIST_LIMIT, ref: 'rooms' })) askForRoomListOverHttp();
  };
  ask();
  state.listTimer = setInterval(ask, ROOM_LIST_EVERY_MS);
}

async function askForRoomListOverHttp() {
  try {
    const reply = await api.rooms(ROOM_LIST_LIMIT);
    state.rooms.list.listing(reply.rooms);
    drawRoomList();
  } catch {
    clearInterval(state.listTimer); // a server without a room list: the page lists the rooms joined
  }
}

// ---- tokens (session.js keeps them fresh)

const keeper = new TokenKeeper(state.tokens, embedded, {
  mayTake: () => !state.connection.wanted, // a guest page that has joined stays a guest's
  changed: (first) => {
    const fresh = state.tokens.token;
    api.token = fresh;
    if (first) showTokenName();
    if (state.connection.transport === 'websocket') connection.send({ type: 'refresh', token: fresh });
    drawAccount();
    if (!state.connection.wanted && state.connection.stoppedFor === 'unauthorized') start(); // stopped for want of it
  },
  ended: () => view.notice('Your session has ended; sign in again to go on as yourself.'),
});

// With a token the server takes the name from it; the field only shows it.
function showTokenName() {
  nameInput.value = tokens.claim(state.tokens.token, 'name');
  nameInput.readOnly = true;
  nameInput.required = false;
  nameInput.setCustomValidity('');
}

function drawAccount() {
  const t = state.tokens;
  view.account({
    name: t.token ? tokens.claim(t.token, 'name') : '',
    signedIn: t.source === 'session',
    offerSignIn: !t.token && t.accounts && !embedded,
  });
}

// ---- joining, leaving, sending

function start() {
  state.connection.stoppedFor = null;
  connection.connect();
  view.joinedForm(true);
  drawRoomList();
  drawActiveRoom();
  textInput.focus({ preventScroll: true });
}

function stop(status, code = null) {
  for (const name of state.rooms.list.joined) if (state.connection.transport === 'websocket') connection.send({ type: 'leave', room: name });
  connection.stop(code);
  clearTimeout(state.outboxTimer);
  clearInterval(state.listTimer);
  pollMembers(false);
  if (code === null) {
    // The user left every room: a reload starts at the form, and nothing unsent goes out later.
    for (const name of [...state.rooms.list.joined]) state.rooms.list.leave(name);
    state.rooms.byName.clear();
    state.outbox = new Outbox(pagePrefix);
    saveOutbox();
    saveRooms();
  }
  view.joinedForm(false);
  drawRoomList();
  drawActiveRoom();
  view.status(status, 'idle');
}

// A name the server would take: it counts characters, not UTF-16 units, and refuses invisible ones
// (its full rules are in docs/PROTOCOL.md; this catches the common cases before connecting).
function validName(name) {
  return !(name === '' || codePoints(name) > 32 || /\p{Cc}|[\u202A-\u202E\u2066-\u2069]|[^\S ]| {2}/u.test(name));
}

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (!state.tokens.token && !validName(name)) {
    nameInput.setCustomValidity('1 to 32 characters, no invisible characters, one space between words.');
    nameInput.reportValidity();
    return;
  }
  state.me.name = name;
  api.name = name;
  state.me.user = state.tokens.token ? tokens.claim(state.tokens.token, 'sub') || null : `guest:${name}`;
  if (!state.tokens.token) save(localStorage, 'name', name);
  save(localStorage, 'room', roomInput.value);
  state.rooms.list.join(roomInput.value);
  saveRooms();
  roomState(roomInput.value);
  start();
});

$('add-room').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('new-room');
  const makePrivate = $('new-room-private');
  if (makePrivate.checked && state.connection.transport === 'websocket') {
    // Made first, then joined on the `room` answer (a private room answers not_found until it exists).
    connection.send({ type: 'create', room: input.value, kind: 'private', ref: 'create' });
    makePrivate.checked = false;
  } else {
    joinRoom(input.value);
  }
  input.value = '';
});

$('room-settings').addEventListener('toggle', () => {
  const name = state.rooms.list.active;
  if ($('room-settings').open && name !== null) connection.send({ type: 'room_settings', room: name, ref: 'settings' });
});

$('settings-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = state.rooms.list.active;
  if (name === null) return;
  const sent = connection.send({ type: 'set', room: name, kind: $('settings-kind').value, write: $('settings-write').value, ref: 'set' });
  const slow = $('settings-slow').value;
  if (sent && slow !== '') connection.send({ type: 'slow', room: name, seconds: Number(slow), ref: 'slow' });
  if (!sent) view.notice('Room settings need the WebSocket connection; try again once connected.');
  $('settings-slow').value = '';
});

// Owners, moderators and admins invite a user id into the room (`grant` of `member`; what makes a
// private room theirs to see) or take that back (`revoke`). The answer is a `room` record with our ref.
function memberChange(type) {
  const name = state.rooms.list.active;
  const user = $('member-user').value.trim();
  if (name === null || user === '') return;
  const request = type === 'invite' ? { type: 'grant', room: name, user, role: 'member' } : { type: 'revoke', room: name, user };
  if (!connection.send({ ...request, ref: `${type}:${user}` })) {
    view.notice('Inviting members needs the WebSocket connection; try again once connected.');
    return;
  }
  $('member-user').value = '';
}

$('members-form').addEventListener('submit', (event) => {
  event.preventDefault();
  memberChange('invite');
});

$('member-revoke').addEventListener('click', () => memberChange('revoke'));

$('rooms').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  const name = button?.closest('li[data-room]')?.dataset.room;
  if (!name) return;
  if (button.dataset.action === 'leave') leaveRoom(name);
  else if (button.dataset.action === 'show') showRoom(name);
  else if (state.connection.wanted) joinRoom(name);
  else {
    roomInput.value = name; // not connected yet: the form still needs a name
    roomInput.focus();
  }
});

$('leave').addEventListener('click', () => stop('disconnected'));

$('sign-out').addEventListener('click', async () => {
  try {
    await signOut();
  } catch {
    // Signed out or not, the page forgets the token; a reload shows what the server thinks.
  }
  stop('signed out');
  location.reload();
});

$('outbox').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  const id = button?.closest('li[data-id]')?.dataset.id;
  if (!id) return;
  const entry = state.outbox.get(id);
  if (button.dataset.action === 'retry') state.outbox.retry(id);
  else state.outbox.discard(id);
  outboxChanged();
  if (entry) pump(entry.room);
});

$('messages').addEventListener('click', (event) => {
  if (event.target.closest('button[data-action="older"]')) older();
  const button = event.target.closest('button[data-mod]');
  const line = button?.closest('li.message');
  if (line) moderate(button.dataset.mod, Number(line.dataset.seq), line.dataset.user);
});
$('messages').addEventListener('scroll', () => {
  if (view.nearTop()) older();
});

function countText() {
  view.counter(codePoints(textInput.value), state.limits.maxLength);
}

textInput.addEventListener('input', countText);
// Enter sends, Shift+Enter starts a new line; neither while an input method is composing.
textInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('send-form').requestSubmit();
  }
});

$('send-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = textInput.value;
  const name = state.rooms.list.active;
  if ($('send').disabled || name === null || text.trim() === '') return;
  if (codePoints(text) > state.limits.maxLength) {
    view.notice(`Messages are limited to ${state.limits.maxLength} characters.`);
    return;
  }
  state.outbox.add(name, text);
  outboxChanged();
  pump(name);
  textInput.value = '';
  countText();
  view.toBottom();
});

// ---- the page itself

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return;
  state.rooms.list.seen();
  drawRoomList();
});

// Phones: when the on-screen keyboard opens, the visual viewport shrinks; the page is fitted to it
// and, if the newest message was in view, it stays in view.
$('messages').addEventListener('scroll', () => {
  const list = $('messages');
  state.followNewest = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
});
window.visualViewport?.addEventListener('resize', () => {
  document.documentElement.style.setProperty('--viewport-height', `${window.visualViewport.height}px`);
  if (state.followNewest) view.toBottom();
});

async function boot() {
  // On a phone the member list starts folded: the messages need the room.
  if (window.matchMedia('(max-width: 40rem)').matches) $('members-box').open = false;
  if (state.tokens.token) {
    showTokenName();
  } else {
    nameInput.value = recall('name') ?? '';
    await keeper.start();
  }
  drawAccount();
  roomInput.value = state.rooms.list.active ?? recall('room') ?? 'lobby';
  nameInput.addEventListener('input', () => nameInput.setCustomValidity(''));
  drawRoomList();
  // The rooms of the last visit are joined again without a click, as the same user.
  const name = state.tokens.token ? tokens.claim(state.tokens.token, 'name') : recall('name');
  if (state.connection.wanted) return; // joined by hand while the session was asked for
  if (state.rooms.list.joined.length > 0 && (state.tokens.token || validName(name ?? ''))) {
    state.me.name = name;
    api.name = name;
    state.me.user = state.tokens.token ? tokens.claim(state.tokens.token, 'sub') || null : `guest:${name}`;
    for (const room of state.rooms.list.joined) roomState(room);
    start();
  } else {
    askForRoomListOverHttp();
  }
}

boot();
