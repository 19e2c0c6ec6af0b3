// Parley's browser client: one nickname, one room, over a WebSocket speaking docs/PROTOCOL.md or,
// where something refuses WebSocket, over the HTTP API by long polling.
//
// State per room lives in a Room (room.js): the last seq shown, messages waiting behind a gap,
// and whether a `history` request is in flight. Every message, whether from `joined.history`, a
// `history` reply, a poll reply or live, goes through room.accept(), which drops seqs already
// shown (dedupe) and holds back any that arrive after a gap until it is filled. So the list in the
// page is only ever appended to, in seq order, each message exactly once.
//
// Transports. connect() opens a WebSocket. If it closes without ever opening, one plain poll of the
// HTTP API tells why: if the server answers, it is up and something on the way (a proxy, a
// firewall, the server's --no-websocket) refuses the upgrade, so we stay on long polling: GET
// /api/rooms/{room}/messages?since=N&wait=25 in a loop, sends as POSTs. While polling, a WebSocket
// is tried again after 30 s (doubling up to 5 min); once it has re-joined with `since`, polling
// stops. If the poll fails too, the server is down. A dropped connection (a socket that closes
// after opening, a poll that fails) is reopened, WebSocket first, after an exponential, jittered
// delay; it re-joins with `since` = the last seq shown, so it receives exactly what it missed.
//
// Sends. A send stays in `outgoing` until its ack or its own message arrives. Whenever a
// transport has caught up with the room, everything still in `outgoing` is sent again with the
// same id: the server stores an id once per (room, user) and answers a repeat with the first ack,
// so a send that did arrive before a drop or a switch is not stored twice.
//
// A token in the page's address (#token=… or ?token=…) makes us a user instead of a guest: it
// goes on the WebSocket URL as ?token= (browsers cannot set headers on a WebSocket) and in an
// Authorization header to the API.
//
// Fresh tokens. A connection opened with a token ends (1008) when the token expires. A site that
// shows this page in a frame (it must be an --allowed-origin) can hand it a token at any time:
// frame.contentWindow.postMessage({ type: 'parley:token', token }, parleyOrigin). The page asks for
// one by posting { type: 'parley:token-needed', validUntil } to its parent when three quarters of the
// connection's time are gone, again if the connection ends with 1008, and once at the start when it
// has no token. A fresh token goes to the server as `refresh` (no reconnect), and serves every later
// reconnect and API request. So the parent may also give the first token this way instead of in the
// address; a guest page that has joined is not turned into a user's.
//
// What the page shows is drawn by view.js, through textContent only.

import { Api, ApiError } from './api.js';
import { Room } from './room.js';
import * as view from './view.js';

const PING_EVERY_MS = 20_000; // the server closes a connection silent for 60 s
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 15_000;
const STABLE_AFTER_MS = 10_000; // a connection that lived this long resets the backoff
const POLL_WAIT_S = 25; // below the 30 s the API allows, and below most proxies' idle timeouts
const UPGRADE_FIRST_MS = 30_000;
const UPGRADE_MAX_MS = 300_000;
const SEND_RETRY_MS = 2_000;
const STOP_ON = new Set(['invalid_name', 'invalid_room', 'unauthorized', 'forbidden']); // retrying cannot help
const RETRY_SEND_ON = new Set(['rate_limited', 'overloaded', 'store_unavailable']);

const $ = (id) => document.getElementById(id);
const joinForm = $('join-form');
const nameInput = $('name');
const roomInput = $('room');
const connectButton = $('connect');
const leaveButton = $('leave');
const sendForm = $('send-form');
const textInput = $('text');
const sendButton = $('send');

let token = pageToken();
const embedded = window.parent !== window;
let nickname = '';
let me = null; // our user id: the `welcome`'s `user`, or, while polling, the token's `sub` or `guest:<name>`
let room = null; // null once the user leaves, so that late replies and timers are ignored
let api = null;
let transport = 'none'; // the one that delivers: 'websocket', 'longpoll' or 'none' while connecting
let ws = null; // the socket we listen to: the connection, or a retry of WebSocket while polling
let poll = null; // the AbortController of the running long-poll loop
let connectedAt = null;
let attempt = 0;
let upgradeAttempt = 0;
let synced = false;
let pingTimer;
let retryTimer;
let upgradeTimer;
let countdownTimer;
let tokenTimer;
let stoppedFor = null; // the error code that stopped the page, if one did
let maxLength = 2000;
let sent = 0;
const outgoing = new Map(); // id -> text of our sends not yet acknowledged
// crypto.randomUUID needs a secure context; a random prefix and a counter work over plain http too.
const clientId = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');

function pageToken() {
  return new URLSearchParams(location.hash.slice(1)).get('token') ?? new URLSearchParams(location.search).get('token');
}

// A claim of the token, to show its name in the form or know our user id while polling; the server
// checks the token, we only read it.
function tokenClaim(claim) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes))[claim] ?? '';
  } catch {
    return '';
  }
}

function tokenName() {
  return tokenClaim('name');
}

function setTransport(name) {
  if (name !== transport) console.info(`parley: transport ${transport} -> ${name}`);
  transport = name;
  view.transport(name);
}

// Ours by user id only: a guest may take our name (or one that looks like it), never our id; and a
// message with the id of one of our sends is ours only if it is from us.
function showMessage(message) {
  const ours = me !== null && message.user === me;
  if (ours) outgoing.delete(message.id);
  view.message(message, ours);
}

// A `joined` or a poll reply may say that some of what we missed is gone (retention).
function noteRecovery(reply) {
  if (reply.recovered === false) view.notice('Some older messages are no longer stored on the server; they are missing here.');
}

function send(request) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(request));
}

function setReady(ready) {
  synced = ready;
  sendButton.disabled = !ready;
  if (ready) view.status('connected', 'connected');
}

// The transport has caught up with the room: open it for sending, and send again what is pending.
function caughtUp() {
  setReady(true);
  for (const id of outgoing.keys()) deliver(id);
}

// Asks for the next page of missing messages, or, once there is none, opens the room for sending.
function fill() {
  const request = room.nextFetch();
  if (request) {
    send(request);
  } else if (!synced && room.caughtUp) {
    caughtUp();
  }
}

// Sends one of `outgoing` over whichever transport delivers now; caughtUp() calls again for the rest.
function deliver(id) {
  const text = outgoing.get(id);
  if (text === undefined || !synced) return;
  if (transport === 'websocket') {
    send({ type: 'send', room: room.name, id, text });
  } else if (transport === 'longpoll') {
    const current = room;
    api.send(id, text).then(acknowledged, (error) => {
      if (room === current) sendFailed(id, error);
    });
  }
}

function acknowledged(ack) {
  outgoing.delete(ack.id);
}

function sendFailed(id, error) {
  if (!(error instanceof ApiError) || error.status >= 500 || RETRY_SEND_ON.has(error.code)) {
    retrySend(id, error.retryAfterMs ?? SEND_RETRY_MS, error.code);
  } else {
    refuseSend(id, error);
  }
}

function retrySend(id, delay, code) {
  if (code === 'rate_limited') view.notice(`Sending too fast; trying again in ${Math.ceil(delay / 1000)} s.`);
  setTimeout(() => deliver(id), delay);
}

// The server said no to this message: give its text back rather than lose it.
function refuseSend(id, error) {
  view.notice(`${error.code}: ${error.message}`);
  if (textInput.value === '') textInput.value = outgoing.get(id) ?? '';
  outgoing.delete(id);
  if (STOP_ON.has(error.code)) disconnect(`stopped: ${error.code}`, error.code);
}

// Asks the embedding page for a fresh token; the message says nothing secret, so any parent may hear it.
function askForToken(validUntil) {
  if (embedded) window.parent.postMessage({ type: 'parley:token-needed', validUntil: validUntil ?? null }, '*');
}

// Plans the next ask: when three quarters of the time until `validUntil` are gone.
function planTokenRequest(validUntil) {
  clearTimeout(tokenTimer);
  if (!embedded || !validUntil) return;
  tokenTimer = setTimeout(() => askForToken(validUntil), Math.max(1000, (validUntil - Date.now()) * 0.75));
}

// A token from the embedding page.
function useToken(fresh) {
  if (fresh === token || (!token && room !== null)) return;
  const first = !token;
  token = fresh;
  if (api) api.token = fresh;
  if (first) showTokenName();
  if (transport === 'websocket') send({ type: 'refresh', token: fresh });
  if (room === null && stoppedFor === 'unauthorized') joinForm.requestSubmit(); // stopped for want of it
}

window.addEventListener('message', (event) => {
  if (!embedded || event.source !== window.parent) return;
  const data = event.data;
  if (data?.type === 'parley:token' && typeof data.token === 'string' && data.token !== '') useToken(data.token);
});

// `left` and `pong` need no action; the protocol lets servers add message types, so others are ignored.
function handle(msg) {
  switch (msg.type) {
    case 'welcome':
      planTokenRequest(msg.validUntil);
      maxLength = msg.limits?.maxMessageLength ?? maxLength;
      textInput.maxLength = maxLength;
      nickname = msg.name;
      me = msg.user;
      if (transport !== 'longpoll') view.status(`joining ${room.name}…`, 'connecting');
      send(room.joinRequest());
      break;
    case 'joined':
      if (transport === 'longpoll') stopPolling(); // a retried WebSocket got through: switch to it
      setTransport('websocket');
      setReady(false);
      connectedAt ??= Date.now();
      view.members(msg.members);
      noteRecovery(msg);
      room.joined(msg);
      fill();
      break;
    case 'message':
      room.accept(msg);
      fill();
      break;
    case 'history':
      noteRecovery(msg);
      room.history(msg);
      fill();
      break;
    case 'presence':
      view.members(msg.members);
      view.presence(msg.joined, 'joined');
      view.presence(msg.left, 'left');
      break;
    case 'ack':
      acknowledged(msg);
      break;
    case 'refreshed':
      console.info(`parley: token refreshed until ${new Date(msg.validUntil).toISOString()}`);
      planTokenRequest(msg.validUntil);
      break;
    case 'error':
      onError(msg);
      break;
  }
}

function onError(error) {
  if (error.code === 'shutting_down') return; // the close that follows triggers the reconnect
  if (error.request === 'refresh') {
    // The connection goes on with the token it has, until that one expires.
    view.notice(`The new token was refused (${error.code}: ${error.message}).`);
    return;
  }
  if (error.request === 'send' && outgoing.has(error.id)) {
    if (RETRY_SEND_ON.has(error.code)) retrySend(error.id, error.retryAfter ?? SEND_RETRY_MS, error.code);
    else refuseSend(error.id, error);
    return;
  }
  if (error.code === 'rate_limited' && (error.request === 'join' || error.request === 'history')) {
    const socket = ws;
    setTimeout(() => {
      if (ws !== socket) return; // that connection is gone; the next one asks anew
      if (error.request === 'join') send(room.joinRequest());
      else room.fetchRefused();
      fill();
    }, error.retryAfter ?? SEND_RETRY_MS);
    return;
  }
  view.notice(`${error.code}: ${error.message}`);
  if (error.request === 'history') {
    room.skipGap();
    fill();
  }
  if (STOP_ON.has(error.code)) disconnect(`stopped: ${error.code}`, error.code);
}

function connect() {
  clearInterval(countdownTimer);
  view.status('connecting…', 'connecting');
  setTransport('none');
  setReady(false);
  connectedAt = null;
  openSocket();
}

// Opens a WebSocket: the connection itself, or, while polling, a try at moving back to WebSocket.
function openSocket() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  const socket = new WebSocket(`${scheme}://${location.host}/chat${query}`, 'parley.v1');
  let opened = false;
  ws = socket;
  socket.addEventListener('open', () => {
    if (socket !== ws) return;
    opened = true;
    send(nickname ? { type: 'hello', name: nickname } : { type: 'hello' });
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
  // A failed socket always fires `close` after `error`, so `close` alone drives what comes next.
  socket.addEventListener('close', (event) => {
    if (socket !== ws) return;
    ws = null;
    clearInterval(pingTimer);
    if (event.code === 1008) askForToken(null); // the token ran out: the reconnect needs a fresh one
    if (transport === 'longpoll') scheduleUpgrade();
    else if (opened) dropped();
    else probeHttp();
  });
}

// The WebSocket never opened: is the server down, or is only WebSocket refused?
async function probeHttp() {
  console.info('parley: the WebSocket did not open; asking the HTTP API');
  const current = room;
  try {
    const reply = await api.read(room.last, 0);
    if (room === current) startPolling(reply);
  } catch (error) {
    if (room !== current) return;
    if (error instanceof ApiError && STOP_ON.has(error.code)) disconnect(`stopped: ${error.code}`, error.code);
    else dropped();
  }
}

async function startPolling(first) {
  const controller = new AbortController();
  poll = controller;
  setTransport('longpoll');
  connectedAt = Date.now();
  view.members(null); // the API does not report presence
  upgradeAttempt = 0;
  scheduleUpgrade();
  let reply = first;
  try {
    while (poll === controller) {
      polled(reply);
      reply = await nextPoll(controller.signal);
    }
  } catch (error) {
    if (poll !== controller) return; // stopped on purpose: switched to WebSocket, or left
    if (error instanceof ApiError && STOP_ON.has(error.code)) disconnect(`stopped: ${error.code}`, error.code);
    else dropped();
  }
}

// The next poll: waiting for news once caught up, at once while there is more to fetch.
async function nextPoll(signal) {
  for (;;) {
    try {
      return await api.read(room.last, room.caughtUp ? POLL_WAIT_S : 0, signal);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'rate_limited')) throw error;
      await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs ?? SEND_RETRY_MS));
    }
  }
}

function polled(reply) {
  const messages = reply.messages ?? [];
  noteRecovery(reply);
  room.joined({ ...reply, seq: reply.seq ?? messages.at(-1)?.seq ?? room.last ?? 0, history: messages });
  if (!synced && room.caughtUp) caughtUp();
}

function stopPolling() {
  const controller = poll;
  poll = null;
  controller?.abort();
  clearTimeout(upgradeTimer);
}

function scheduleUpgrade() {
  clearTimeout(upgradeTimer);
  const delay = Math.min(UPGRADE_MAX_MS, UPGRADE_FIRST_MS * 2 ** upgradeAttempt);
  upgradeAttempt += 1;
  upgradeTimer = setTimeout(() => {
    if (transport === 'longpoll' && !ws) openSocket();
  }, delay);
}

// The connection dropped (or never came): start again, WebSocket first, after a backoff delay.
function dropped() {
  stopPolling();
  const socket = ws;
  ws = null;
  socket?.close();
  clearInterval(pingTimer);
  setTransport('none');
  setReady(false);
  if (connectedAt !== null && Date.now() - connectedAt > STABLE_AFTER_MS) attempt = 0;
  const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
  attempt += 1;
  console.info(`parley: no connection; trying again in ${Math.round(delay)} ms`);
  const due = Date.now() + delay;
  const tick = () => view.status(`reconnecting in ${Math.ceil((due - Date.now()) / 1000)}s`, 'reconnecting');
  tick();
  countdownTimer = setInterval(tick, 1000);
  retryTimer = setTimeout(connect, delay);
}

function disconnect(status, code = null) {
  stoppedFor = code;
  clearTimeout(retryTimer);
  clearTimeout(tokenTimer);
  clearInterval(countdownTimer);
  clearInterval(pingTimer);
  stopPolling();
  if (ws) {
    send({ type: 'leave', room: room.name });
    const socket = ws;
    ws = null;
    socket.close(1000);
  }
  room = null;
  setTransport('none');
  setReady(false);
  setConnectedForm(false);
  view.status(status, 'idle');
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

// With a token the server takes the name from it; the field only shows it.
function showTokenName() {
  nameInput.value = tokenName();
  nameInput.readOnly = true;
  nameInput.required = false;
  nameInput.setCustomValidity('');
}

if (token) showTokenName();
else nameInput.value = recall('name') ?? '';
if (!token) askForToken(null); // a parent that signs its users in can answer before they join
roomInput.value = recall('room') ?? 'lobby';
nameInput.addEventListener('input', () => nameInput.setCustomValidity(''));

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  // The server counts characters, not UTF-16 units, and refuses invisible ones (its full rules are in
  // docs/PROTOCOL.md; this catches the common cases before connecting).
  if (!token && (name === '' || [...name].length > 32 || /\p{Cc}|[\u202A-\u202E\u2066-\u2069]|[^\S ]| {2}/u.test(name))) {
    nameInput.setCustomValidity('1 to 32 characters, no invisible characters, one space between words.');
    nameInput.reportValidity();
    return;
  }
  nickname = name;
  me = token ? tokenClaim('sub') || null : `guest:${name}`;
  if (!token) remember('name', name);
  remember('room', roomInput.value);
  room = new Room(roomInput.value, showMessage);
  api = new Api(room.name, name, token);
  outgoing.clear();
  view.room(room.name);
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
    view.notice(`Messages are limited to ${maxLength} characters.`);
    return;
  }
  sent += 1;
  const id = `${clientId}-${sent}`;
  outgoing.set(id, text);
  deliver(id);
  textInput.value = '';
});
