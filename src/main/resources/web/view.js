// What the page shows: status, transport, notices, the room's title and members, and the message
// list. app.js decides what to show; this module is the only one that touches those elements.
//
// Names and texts from the network reach the page through textContent only, never as markup.
//
// Who a message is from: the sender's `user` id tells, not its name. Guests (`guest:` ids, a prefix no
// token may use) get a visible "guest" badge, so that a guest named like a signed-in user does not
// pass for them. Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) in
// names and texts are not applied but shown as a marker: "abc<U+202E>gnp.exe" must not read
// "abcexe.png". Isolating the element (unicode-bidi: isolate or plaintext, <bdi>) would keep the
// reordering from leaking out, but not stop it inside, so the characters themselves go.

const NOTICE_MS = 8_000;
const TRANSPORT_TEXT = { websocket: 'WebSocket', longpoll: 'long polling', none: '' };

const $ = (id) => document.getElementById(id);
const statusLine = $('status');
const transportLine = $('transport');
const roomTitle = $('room-title');
const membersLine = $('members');
const list = $('messages');
const noticeLine = $('notice');
let noticeTimer;

const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;
const GUEST_PREFIX = 'guest:';

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// An element showing `text` with each bidirectional control replaced by a visible, inert marker.
function shown(tag, className, value) {
  const node = element(tag, className);
  const text = String(value ?? '');
  let from = 0;
  for (const match of text.matchAll(BIDI_CONTROLS)) {
    if (match.index > from) node.append(text.slice(from, match.index));
    const code = `U+${match[0].codePointAt(0).toString(16).toUpperCase()}`;
    const marker = element('span', 'control', code);
    marker.title = `${code}, a text direction control, not applied`;
    node.append(marker);
    from = match.index + 1;
  }
  if (from < text.length) node.append(text.slice(from));
  return node;
}

function clock(ms) {
  const date = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// Appends a line and keeps the view at the bottom if it was there (or if asked to).
function append(node, follow = false) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(node);
  if (atBottom || follow) list.scrollTop = list.scrollHeight;
}

export function status(text, state) {
  statusLine.textContent = text;
  statusLine.dataset.state = state;
}

// 'websocket', 'longpoll' or 'none' (connecting, or not connected).
export function transport(name) {
  transportLine.dataset.transport = name;
  transportLine.textContent = TRANSPORT_TEXT[name];
}

export function notice(text) {
  noticeLine.textContent = text;
  noticeLine.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { noticeLine.hidden = true; }, NOTICE_MS);
}

// An empty list for a newly joined room.
export function room(name) {
  list.replaceChildren();
  roomTitle.textContent = name;
  membersLine.textContent = '';
}

// A member count, or null when the transport does not report one (the HTTP API).
export function members(count) {
  membersLine.textContent = count === null ? '' : count === 1 ? '1 member' : `${count} members`;
}

// `ours`: sent by this page's own user, as app.js decides from the user id.
export function message(msg, ours) {
  const guest = typeof msg.user === 'string' && msg.user.startsWith(GUEST_PREFIX);
  const item = element('li', `message${ours ? ' mine' : ''}${guest ? ' guest' : ''}`);
  item.dataset.seq = msg.seq;
  const who = element('span', 'who');
  const from = shown('span', 'from', msg.from);
  from.title = msg.user ?? '';
  who.append(from);
  if (guest) who.append(element('span', 'badge', 'guest'));
  const time = element('time', 'time', clock(msg.time));
  time.dateTime = new Date(msg.time).toISOString();
  time.title = new Date(msg.time).toLocaleString();
  item.append(who, time, shown('span', 'text', msg.text));
  append(item, ours);
}

export function presence(names, verb) {
  if (names && names.length > 0) append(shown('li', 'presence', `${names.join(', ')} ${verb}`));
}
