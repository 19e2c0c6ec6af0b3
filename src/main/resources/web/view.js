// What the page shows: status, transport, notices, the room's title and members, and the message
// list. app.js decides what to show; this module is the only one that touches those elements.
//
// Names and texts from the network reach the page through textContent only, never as markup.

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

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
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

export function message(msg, ours) {
  const item = element('li', ours ? 'message mine' : 'message');
  item.dataset.seq = msg.seq;
  const time = element('time', 'time', clock(msg.time));
  time.dateTime = new Date(msg.time).toISOString();
  time.title = new Date(msg.time).toLocaleString();
  item.append(element('span', 'from', msg.from), time, element('span', 'text', msg.text));
  append(item, ours);
}

export function presence(names, verb) {
  if (names && names.length > 0) append(element('li', 'presence', `${names.join(', ')} ${verb}`));
}
