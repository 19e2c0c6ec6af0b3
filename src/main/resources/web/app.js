// Parley's browser client: one nickname, one room, one WebSocket speaking docs/PROTOCOL.md.
//
// State per room lives in a Room (room.js): the last seq shown, messages waiting behind a gap,
// and whether a `history` request is in flight. Every message, whether from `joined.history`, a
// `history` reply or live, goes through room.accept(), which drops seqs already shown (dedupe)
// and holds back any that arrive after a gap until fill() has fetched what is missing. So the
// list in the page is only ever appended to, in seq order, each message exactly once.
//
// Reconnect: unless the user pressed Leave, a closed socket (a failed one closes too) is
// reopened after an exponential, jittered delay. The new connection says `hello` again and
// re-joins with `since` = the last seq shown, so it receives exactly what it missed. Sending
// stays disabled until the room has caught up; a message sent before the drop that still has not
// come back by then was never stored, and its text is returned to the input box.
//
// All names and texts from the network reach the page through textContent only.

import { Room } from './room.js';

const PING_EVERY_MS = 20_000; // the server closes a connection silent for 60 s
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 15_000;
const STABLE_AFTER_MS = 10_000; // a connection that lived this long resets the backoff
const NOTICE_MS = 8_000;
const STOP_ON = new Set(['invalid_name', 'invalid_room']); // retrying cannot help

const $ = (id) => document.getElementById(id);
const joinForm = $('join-form');
const nameInput = $('name');
const roomInput = $('room');
const connectButton = $('connect');
const leaveButton = $('leave');
const statusLine = $('status');
const roomTitle = $('room-title');
const membersLine = $('members');
const list = $('messages');
const notice = $('notice');
const sendForm = $('send-form');
const textInput = $('text');
const sendButton = $('send');

let nickname = '';
let room = null;
let ws = null; // the socket we listen to; null once the user leaves, so a late close is ignored
let openedAt = null;
let attempt = 0;
let synced = false;
let pingTimer;
let retryTimer;
let countdownTimer;
let noticeTimer;
let maxLength = 2000;
let sent = 0;
const outgoing = new Map(); // id -> text of our sends whose `message` has not arrived yet
// crypto.randomUUID needs a secure context; a random prefix and a counter work over plain http too.
const clientId = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setStatus(text, state) {
  statusLine.textContent = text;
  statusLine.dataset.state = state;
}

function showNotice(text) {
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, NOTICE_MS);
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

function showMessage(message) {
  outgoing.delete(message.id);
  const ours = message.from === nickname;
  const item = element('li', ours ? 'message mine' : 'message');
  item.dataset.seq = message.seq;
  const time = element('time', 'time', clock(message.time));
  time.dateTime = new Date(message.time).toISOString();
  time.title = new Date(message.time).toLocaleString();
  item.append(element('span', 'from', message.from), time, element('span', 'text', message.text));
  append(item, ours);
}

function showPresence(names, verb) {
  if (names && names.length > 0) append(element('li', 'presence', `${names.join(', ')} ${verb}`));
}

function setMembers(count) {
  membersLine.textContent = count === 1 ? '1 member' : `${count} members`;
}

function send(request) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(request));
}

function setReady(ready) {
  sendButton.disabled = !ready;
  if (ready) setStatus('connected', 'connected');
}

// Asks for the next page of missing messages, or, once there is none, opens the room for sending.
function fill() {
  const request = room.nextFetch();
  if (request) {
    send(request);
  } else if (!synced && room.caughtUp) {
    synced = true;
    restoreUnsent();
    setReady(true);
  }
}

function restoreUnsent() {
  if (outgoing.size === 0) return;
  if (textInput.value === '') textInput.value = [...outgoing.values()].join(' ');
  outgoing.clear();
  showNotice('A message sent before the connection dropped was not delivered; its text is back in the box.');
}

// `left` and `pong` need no action; the protocol lets servers add message types, so others are ignored.
function handle(msg) {
  switch (msg.type) {
    case 'welcome':
      maxLength = msg.limits?.maxMessageLength ?? maxLength;
      textInput.maxLength = maxLength;
      nickname = msg.name;
      setStatus(`joining ${room.name}…`, 'connecting');
      send(room.joinRequest());
      break;
    case 'joined':
      setMembers(msg.members);
      room.joined(msg);
      fill();
      break;
    case 'message':
      room.accept(msg);
      fill();
      break;
    case 'history':
      room.history(msg.messages);
      fill();
      break;
    case 'presence':
      setMembers(msg.members);
      showPresence(msg.joined, 'joined');
      showPresence(msg.left, 'left');
      break;
    case 'ack':
      outgoing.delete(msg.id);
      break;
    case 'error':
      onError(msg);
      break;
  }
}

function onError(error) {
  if (error.code === 'shutting_down') return; // the close that follows triggers the reconnect
  showNotice(`${error.code}: ${error.message}`);
  if (error.request === 'send' && outgoing.has(error.id)) {
    if (textInput.value === '') textInput.value = outgoing.get(error.id);
    outgoing.delete(error.id);
  } else if (error.request === 'history') {
    room.skipGap();
    fill();
  }
  if (STOP_ON.has(error.code)) disconnect(`stopped: ${error.code}`);
}

function connect() {
  clearInterval(countdownTimer);
  setStatus('connecting…', 'connecting');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/chat`, 'parley.v1');
  ws = socket;
  openedAt = null;
  synced = false;
  socket.addEventListener('open', () => {
    if (socket !== ws) return;
    openedAt = Date.now();
    send({ type: 'hello', name: nickname });
    pingTimer = setInterval(() => send({ type: 'ping' }), PING_EVERY_MS);
  });
  socket.addEventListener('message', (event) => {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return; // the protocol sends JSON only; a broken frame carries nothing we could show
    }
    if (socket === ws) handle(msg);
  });
  // A failed socket always fires `close` after `error`, so `close` alone drives reconnecting.
  socket.addEventListener('close', () => {
    if (socket === ws) onClosed();
  });
}

function onClosed() {
  ws = null;
  clearInterval(pingTimer);
  setReady(false);
  if (openedAt !== null && Date.now() - openedAt > STABLE_AFTER_MS) attempt = 0;
  const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
  attempt += 1;
  const due = Date.now() + delay;
  const tick = () => setStatus(`reconnecting in ${Math.ceil((due - Date.now()) / 1000)}s`, 'reconnecting');
  tick();
  countdownTimer = setInterval(tick, 1000);
  retryTimer = setTimeout(connect, delay);
}

function disconnect(status) {
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  clearInterval(pingTimer);
  if (ws) {
    send({ type: 'leave', room: room.name });
    const socket = ws;
    ws = null;
    socket.close(1000);
  }
  setReady(false);
  setConnectedForm(false);
  setStatus(status, 'idle');
}

function setConnectedForm(connected) {
  nameInput.disabled = connected;
  roomInput.disabled = connected;
  connectButton.hidden = connected;
  leaveButton.hidden = !connected;
  textInput.disabled = !connected;
}

// Storage can be refused (blocked cookies, some private modes): the page then works, it just forgets.
function recall(key) {
  try {
    return localStorage.getItem(`parley.${key}`);
  } catch {
    return null;
  }
}

function remember(key, value) {
  try {
    localStorage.setItem(`parley.${key}`, value);
  } catch {
    // see recall()
  }
}

nameInput.value = recall('name') ?? '';
roomInput.value = recall('room') ?? 'lobby';
nameInput.addEventListener('input', () => nameInput.setCustomValidity(''));

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  // The server counts characters, not UTF-16 units, and forbids control characters.
  if (name === '' || [...name].length > 32 || /\p{Cc}/u.test(name)) {
    nameInput.setCustomValidity('1 to 32 characters, no control characters.');
    nameInput.reportValidity();
    return;
  }
  nickname = name;
  remember('name', name);
  remember('room', roomInput.value);
  room = new Room(roomInput.value, showMessage);
  outgoing.clear();
  list.replaceChildren();
  roomTitle.textContent = room.name;
  membersLine.textContent = '';
  attempt = 0;
  setConnectedForm(true);
  connect();
  textInput.focus();
});

leaveButton.addEventListener('click', () => disconnect('disconnected'));

sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = textInput.value;
  if (sendButton.disabled || text.trim() === '') return;
  if (text.length > maxLength) {
    showNotice(`Messages are limited to ${maxLength} characters.`);
    return;
  }
  sent += 1;
  const id = `${clientId}-${sent}`;
  outgoing.set(id, text);
  send({ type: 'send', room: room.name, id, text });
  textInput.value = '';
});
