// The one connection a page keeps to the server, whatever rooms it is in: a WebSocket speaking
// docs/PROTOCOL.md or, where something refuses WebSocket, the HTTP API by long polling. It knows
// transports, timers and backoff; what the messages mean is app.js's (the `handlers`).
//
// connect() opens a WebSocket. If it closes without ever opening, one plain read of the HTTP API
// tells why: if the server answers, it is up and something on the way (a proxy, a firewall, the
// server's --no-websocket) refuses the upgrade, so we stay on long polling: one loop per room of
// GET /api/rooms/{room}/messages?since=N&wait=25, sends as POSTs. While polling, a WebSocket is
// tried again after 30 s (doubling up to 5 min); once it has re-joined with `since`, polling
// stops (app.js calls webSocketJoined()). If the read fails too, the server is down. A dropped
// connection (a socket that closes after opening, a poll that fails) is reopened, WebSocket first,
// after an exponential, jittered delay; each room re-joins with `since` = the last seq shown, so it
// receives exactly what it missed.
//
// Everything lives in `conn` (the state object's `connection`), so that what is open and which
// timers run can be read in one place. All on the page's one thread.

import { ApiError } from './api.js';

const PING_EVERY_MS = 20_000; // the server closes a connection silent for 60 s
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 15_000;
const STABLE_AFTER_MS = 10_000; // a connection that lived this long resets the backoff
const POLL_WAIT_S = 25; // below the 30 s the API allows, and below most proxies' idle timeouts
const UPGRADE_FIRST_MS = 30_000;
const UPGRADE_MAX_MS = 300_000;
const RATE_RETRY_MS = 2_000;
export const STOP_ON = new Set(['invalid_name', 'unauthorized', 'forbidden']); // retrying cannot help

export function connectionState() {
  return {
    wanted: false, // the user is in at least one room: keep a connection
    transport: 'none', // the one that delivers: 'websocket', 'longpoll' or 'none' while connecting
    ws: null, // the socket we listen to: the connection, or a retry of WebSocket while polling
    polls: new Map(), // room -> AbortController of its long-poll loop
    connectedAt: null,
    attempt: 0,
    upgradeAttempt: 0,
    stoppedFor: null, // the error code that stopped the page, if one did
    timers: { ping: null, retry: null, upgrade: null, countdown: null },
  };
}

// handlers: url() -> WebSocket URL; opened() (send hello); message(msg); transport(name);
// status(text, state); polled(room, reply); rooms() -> names; since(room); caughtUp(room);
// tokenExpired(); stopped(code); api -> Api.
export class Connection {
  constructor(conn, handlers) {
    this.conn = conn;
    this.h = handlers;
  }

  get transport() {
    return this.conn.transport;
  }

  connect() {
    const { conn } = this;
    clearInterval(conn.timers.countdown);
    conn.wanted = true;
    this.h.status('connecting…', 'connecting');
    this.#setTransport('none');
    conn.connectedAt = null;
    this.#openSocket();
  }

  // Sends over the WebSocket if it is open; false otherwise.
  send(request) {
    const ws = this.conn.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(request));
    return true;
  }

  // A `joined` came over the WebSocket: it delivers from now on.
  webSocketJoined() {
    const { conn } = this;
    if (conn.transport === 'longpoll') this.#stopPolling(); // a retried WebSocket got through
    this.#setTransport('websocket');
    conn.connectedAt ??= Date.now();
  }

  // A room joined while polling gets its own loop.
  pollRoom(room) {
    if (this.conn.transport === 'longpoll' && !this.conn.polls.has(room)) this.#pollLoop(room, null);
  }

  unpollRoom(room) {
    const controller = this.conn.polls.get(room);
    this.conn.polls.delete(room);
    controller?.abort();
  }

  // Ends the connection for good (until connect()): the user left, or the server said stop.
  stop(code = null) {
    const { conn } = this;
    conn.wanted = false;
    conn.stoppedFor = code;
    clearTimeout(conn.timers.retry);
    clearInterval(conn.timers.countdown);
    clearInterval(conn.timers.ping);
    this.#stopPolling();
    const socket = conn.ws;
    conn.ws = null;
    socket?.close(1000);
    this.#setTransport('none');
  }

  #setTransport(name) {
    if (name === this.conn.transport) return;
    console.info(`parley: transport ${this.conn.transport} -> ${name}`);
    this.conn.transport = name;
    this.h.transport(name);
  }

  // Opens a WebSocket: the connection itself, or, while polling, a try at moving back to WebSocket.
  #openSocket() {
    const { conn } = this;
    const socket = new WebSocket(this.h.url(), 'parley.v1');
    let opened = false;
    conn.ws = socket;
    socket.addEventListener('open', () => {
      if (socket !== conn.ws) return;
      opened = true;
      this.h.opened();
      clearInterval(conn.timers.ping);
      conn.timers.ping = setInterval(() => this.send({ type: 'ping' }), PING_EVERY_MS);
    });
    socket.addEventListener('message', (event) => {
      if (socket !== conn.ws) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return; // the protocol sends JSON only; a broken frame carries nothing we could show
      }
      this.h.message(msg);
    });
    // A failed socket always fires `close` after `error`, so `close` alone drives what comes next.
    socket.addEventListener('close', (event) => {
      if (socket !== conn.ws) return;
      conn.ws = null;
      clearInterval(conn.timers.ping);
      if (event.code === 1008) this.h.tokenExpired(); // the reconnect needs a fresh token
      if (conn.transport === 'longpoll') this.#scheduleUpgrade();
      else if (opened) this.dropped();
      else this.#probeHttp();
    });
  }

  // The WebSocket never opened: is the server down, or is only WebSocket refused?
  async #probeHttp() {
    console.info('parley: the WebSocket did not open; asking the HTTP API');
    const room = this.h.rooms()[0];
    if (room === undefined) return;
    try {
      const reply = await this.h.api.read(room, this.h.since(room), 0);
      if (this.conn.wanted) this.#startPolling(room, reply);
    } catch (error) {
      if (!this.conn.wanted) return;
      if (error instanceof ApiError && STOP_ON.has(error.code)) this.h.stopped(error.code);
      else this.dropped();
    }
  }

  #startPolling(first, reply) {
    const { conn } = this;
    this.#setTransport('longpoll');
    conn.connectedAt = Date.now();
    conn.upgradeAttempt = 0;
    this.#scheduleUpgrade();
    for (const room of this.h.rooms()) this.#pollLoop(room, room === first ? reply : null);
  }

  async #pollLoop(room, first) {
    const { conn } = this;
    const controller = new AbortController();
    conn.polls.set(room, controller);
    let reply = first;
    try {
      for (;;) {
        if (reply) this.h.polled(room, reply);
        if (conn.polls.get(room) !== controller) return;
        reply = await this.#nextPoll(room, controller.signal);
        if (conn.polls.get(room) !== controller) return;
      }
    } catch (error) {
      if (conn.polls.get(room) !== controller) return; // stopped on purpose: switched, or left
      if (error instanceof ApiError && STOP_ON.has(error.code)) this.h.stopped(error.code);
      else this.dropped();
    }
  }

  // The next poll: waiting for news once caught up, at once while there is more to fetch.
  async #nextPoll(room, signal) {
    for (;;) {
      try {
        return await this.h.api.read(room, this.h.since(room), this.h.caughtUp(room) ? POLL_WAIT_S : 0, signal);
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'rate_limited')) throw error;
        await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs ?? RATE_RETRY_MS));
      }
    }
  }

  #stopPolling() {
    const polls = [...this.conn.polls.values()];
    this.conn.polls.clear();
    polls.forEach((controller) => controller.abort());
    clearTimeout(this.conn.timers.upgrade);
  }

  #scheduleUpgrade() {
    const { conn } = this;
    clearTimeout(conn.timers.upgrade);
    const delay = Math.min(UPGRADE_MAX_MS, UPGRADE_FIRST_MS * 2 ** conn.upgradeAttempt);
    conn.upgradeAttempt += 1;
    conn.timers.upgrade = setTimeout(() => {
      if (conn.transport === 'longpoll' && !conn.ws) this.#openSocket();
    }, delay);
  }

  // The connection dropped (or never came): start again, WebSocket first, after a backoff delay.
  dropped() {
    const { conn } = this;
    if (!conn.wanted) return;
    this.#stopPolling();
    const socket = conn.ws;
    conn.ws = null;
    socket?.close();
    clearInterval(conn.timers.ping);
    clearTimeout(conn.timers.retry);
    clearInterval(conn.timers.countdown);
    this.#setTransport('none');
    if (conn.connectedAt !== null && Date.now() - conn.connectedAt > STABLE_AFTER_MS) conn.attempt = 0;
    const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** conn.attempt) * (0.5 + Math.random() / 2);
    conn.attempt += 1;
    console.info(`parley: no connection; trying again in ${Math.round(delay)} ms`);
    const due = Date.now() + delay;
    const tick = () => this.h.status(`reconnecting in ${Math.ceil((due - Date.now()) / 1000)}s`, 'reconnecting');
    tick();
    conn.timers.countdown = setInterval(tick, 1000);
    conn.timers.retry = setTimeout(() => this.connect(), delay);
  }
}
