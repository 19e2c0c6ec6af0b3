// What the page shows: status, transport, account, notices, the room list, the shown room's
// messages, members and unsent messages, the length counter. app.js decides what to show; this
// module is the only one that touches those elements, and it keeps no state of its own beyond them.
//
// Names and texts from the network reach the page through textContent and DOM nodes only, never as
// markup. Links (format.js: http and https only) become <a> elements built here, opening in a new
// tab with rel="noopener noreferrer" so the linked page gets neither this window nor its address.
//
// Who a message is from: the sender's `user` id tells, not its name. Guests (`guest:` ids, a prefix no
// token may use) get a visible "guest" badge, so that a guest named like a signed-in user does not
// pass for them. Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) in
// names and texts are not applied but shown as a marker: "abc<U+202E>gnp.exe" must not read
// "abcexe.png". Isolating the element (unicode-bidi: isolate or plaintext, <bdi>) would keep the
// reordering from leaking out, but not stop it inside, so the characters themselves go.

import { clock, dayKey, dayLabel, pieces } from './format.js';
import { deletedText } from './moderation.js';

const NOTICE_MS = 8_000;
const TRANSPORT_TEXT = { websocket: 'WebSocket', longpoll: 'long polling', none: '' };
const AT_BOTTOM_PX = 40;
const STATE_TEXT = { queued: 'sending…', sending: 'sending…', sent: 'sent', failed: 'not sent' };

const $ = (id) => document.getElementById(id);
const statusLine = $('status');
const transportLine = $('transport');
const roomTitle = $('room-title');
const membersLine = $('members');
const memberList = $('member-list');
const list = $('messages');
const outboxList = $('outbox');
const noticeLine = $('notice');
const roomList = $('rooms');
const counterLine = $('counter');
let noticeTimer;

const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;
const GUEST_PREFIX = 'guest:';

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Appends `value` to `node` with each bidirectional control replaced by a visible, inert marker.
function appendShown(node, value) {
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

function shown(tag, className, value) {
  return appendShown(element(tag, className), value);
}

// A message's text, its links made clickable.
function messageText(text) {
  const node = element('span', 'text');
  for (const piece of pieces(String(text ?? ''))) {
    if (piece.href === undefined) {
      appendShown(node, piece.text);
    } else {
      const link = element('a', 'link', piece.text);
      link.href = piece.href;
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      node.append(link);
    }
  }
  return node;
}

function atBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight < AT_BOTTOM_PX;
}

export function toBottom() {
  list.scrollTop = list.scrollHeight;
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

// With `lasting`, the notice stays until the next one (news the reader must not miss: a ban).
export function notice(text, lasting = false) {
  noticeLine.textContent = text;
  noticeLine.hidden = false;
  clearTimeout(noticeTimer);
  if (!lasting) noticeTimer = setTimeout(() => { noticeLine.hidden = true; }, NOTICE_MS);
}

// Who this page is: { name, signedIn (a session of this server), guestWithAccounts (offer sign-in) }.
export function account({ name, signedIn, offerSignIn }) {
  $('account-name').textContent = name ?? '';
  $('sign-in').hidden = !offerSignIn;
  $('sign-out').hidden = !signedIn;
}

// Before joining the form asks for a name and a room; after, it gets out of the way (phones have
// no room to spare) and the room list takes further joins.
export function joinedForm(joined) {
  $('join-form').hidden = joined;
  $('add-room').hidden = !joined;
  $('leave').hidden = !joined;
  $('text').disabled = !joined;
  document.body.dataset.joined = joined;
}

export function sendEnabled(enabled) {
  $('send').disabled = !enabled;
}

// The shown room's settings panel: offered (owners, moderators and admins: inviting members) or
// not; `settings` (owners and admins) adds the room's settings; `record` (a `room` answer) fills
// them in.
export function roomSettings(offered, record = null, settings = offered) {
  const panel = $('room-settings');
  panel.hidden = !offered;
  if (!offered) panel.open = false;
  $('settings-form').hidden = !settings;
  if (record) {
    if (typeof record.kind === 'string') $('settings-kind').value = record.kind;
    if (typeof record.write === 'string') $('settings-write').value = record.write;
  }
}

// Whether the "new private room" choice beside "Join a room" is offered (signed-in users only).
export function offerPrivateRooms(offered) {
  $('new-room-private-label').hidden = !offered;
  if (!offered) $('new-room-private').checked = false;
}

// Why the shown room does not take messages from us now (banned, timed out until when), or null.
// While it holds, the composer is disabled.
export function roomBlock(text) {
  const line = $('room-block');
  line.textContent = text ?? '';
  line.hidden = text === null || text === undefined;
  $('text').disabled = !line.hidden || document.body.dataset.joined !== 'true';
}

// The room list: entries from RoomList.entries().
export function rooms(entries) {
  roomList.replaceChildren(...entries.map((entry) => {
    const item = element('li', entry.joined ? 'room joined' : 'room');
    item.dataset.room = entry.room;
    if (entry.active) item.setAttribute('aria-current', 'true');
    const open = element('button', 'open');
    open.type = 'button';
    open.dataset.action = entry.joined ? 'show' : 'join';
    open.append(element('span', 'name', entry.room));
    if (entry.unread > 0) open.append(element('span', 'unread', String(entry.unread)));
    open.title = entry.members === null ? entry.room : `${entry.room}: ${entry.members} connected`;
    item.append(open);
    if (entry.joined) {
      const leave = element('button', 'leave-room', '×');
      leave.type = 'button';
      leave.dataset.action = 'leave';
      leave.title = `Leave ${entry.room}`;
      leave.setAttribute('aria-label', `Leave ${entry.room}`);
      item.append(leave);
    }
    return item;
  }));
}

// The document title carries the unread count, for a tab in the background.
export function unreadTotal(count) {
  document.title = count > 0 ? `(${count}) Parley` : 'Parley';
}

function dayLine(time) {
  const item = element('li', 'day', dayLabel(time));
  item.dataset.day = dayKey(time);
  return item;
}

function messageLine(msg, ours, moderate) {
  const guest = typeof msg.user === 'string' && msg.user.startsWith(GUEST_PREFIX);
  const item = element('li', `message${ours ? ' mine' : ''}${guest ? ' guest' : ''}`);
  item.dataset.seq = msg.seq;
  item.dataset.user = msg.user ?? '';
  const who = element('span', 'who');
  const from = shown('span', 'from', msg.from);
  from.title = msg.user ?? '';
  who.append(from);
  if (guest) who.append(element('span', 'badge', 'guest'));
  const time = element('time', 'time', clock(msg.time));
  time.dateTime = new Date(msg.time).toISOString();
  time.title = new Date(msg.time).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'medium' });
  if (msg.deleted) {
    item.classList.add('deleted');
    item.append(who, time, shown('span', 'text tombstone', deletedText(msg.deleted)));
  } else {
    item.append(who, time, messageText(msg.text));
  }
  if (moderate && !msg.deleted) item.append(moderationActions(msg));
  return item;
}

// A moderator's actions on one message; app.js asks for confirmation before doing any.
const ACTIONS = [['delete', 'Delete'], ['timeout-60', 'Timeout 60 s'], ['timeout-600', 'Timeout 10 min'], ['ban', 'Ban']];

function moderationActions(msg) {
  const box = element('span', 'mod-actions');
  for (const [action, label] of ACTIONS) {
    const button = element('button', `link mod-${action}`, label);
    button.type = 'button';
    button.dataset.mod = action;
    box.append(button);
  }
  return box;
}

// The elements of one line (a day separator first when its day differs from `previousTime`'s).
function lineNodes(line, previousTime, moderate) {
  if (line.kind === 'presence') return [shown('li', 'presence', line.text)];
  const nodes = [];
  if (previousTime === null || dayKey(previousTime) !== dayKey(line.msg.time)) nodes.push(dayLine(line.msg.time));
  nodes.push(messageLine(line.msg, line.ours, moderate));
  return nodes;
}

// Shows a room from scratch: its lines and, at the top, how to page back (`older`: 'more',
// 'loading' or 'start'). With `keepPlace`, what was in view stays in view (older lines came in
// above); otherwise the newest line is shown. With `moderate`, each message offers moderation actions.
export function showRoom(name, lines, older, keepPlace = false, moderate = false) {
  const fromBottom = list.scrollHeight - list.scrollTop;
  roomTitle.textContent = name ?? '';
  const nodes = [olderLine(older)];
  let previousTime = null;
  for (const line of lines) {
    nodes.push(...lineNodes(line, previousTime, moderate));
    if (line.kind === 'message') previousTime = line.msg.time;
  }
  list.replaceChildren(...nodes);
  if (keepPlace) list.scrollTop = list.scrollHeight - fromBottom;
  else toBottom();
}

function olderLine(older) {
  const item = element('li', 'older');
  item.id = 'older';
  item.dataset.state = older;
  if (older === 'more') {
    const button = element('button', 'link', 'Show older messages');
    button.type = 'button';
    button.dataset.action = 'older';
    item.append(button);
  } else {
    item.textContent = older === 'loading' ? 'Loading older messages…' : older === 'start' ? 'The start of the room' : '';
  }
  return item;
}

export function olderState(older) {
  list.querySelector('#older')?.replaceWith(olderLine(older));
}

// Appends a line of the shown room; keeps the view at the bottom if it was there (or if asked to).
export function appendLine(line, previousTime, follow = false, moderate = false) {
  const bottom = atBottom();
  list.append(...lineNodes(line, previousTime, moderate));
  if (bottom || follow) toBottom();
}

export function nearTop() {
  return list.scrollTop < 80;
}

// The connections in the shown room, or null when the transport does not report them.
export function members(count) {
  membersLine.textContent = count === null || count === undefined ? '' : `(${count})`;
}

// [{ name, connections }] as Presence.list() gives them.
export function memberNames(names) {
  memberList.replaceChildren(...names.map(({ name, connections }) => {
    const item = shown('li', 'member', name);
    if (connections > 1) {
      const times = element('span', 'connections', `×${connections}`);
      times.title = `${connections} connections`;
      item.append(times);
    }
    return item;
  }));
}

// The shown room's messages not yet stored, with their state; a failed one offers retry and discard.
export function outbox(entries) {
  const bottom = atBottom();
  outboxList.replaceChildren(...entries.map((entry) => {
    const item = element('li', 'outgoing');
    item.dataset.id = entry.id;
    item.dataset.state = entry.state;
    item.append(shown('span', 'text', entry.text));
    const state = element('span', 'send-state', STATE_TEXT[entry.state]);
    if (entry.error) state.title = `${entry.error.code}: ${entry.error.message}`;
    item.append(state);
    if (entry.state === 'failed') {
      for (const [action, label] of [['retry', 'Retry'], ['discard', 'Discard']]) {
        const button = element('button', `link ${action}`, label);
        button.type = 'button';
        button.dataset.action = action;
        item.append(button);
      }
    }
    return item;
  }));
  if (bottom) toBottom();
}

// `used` of `max` code points, as the server counts them; marked when over.
export function counter(used, max) {
  counterLine.textContent = used > 0 ? `${used}/${max}` : '';
  counterLine.dataset.over = used > max;
}
