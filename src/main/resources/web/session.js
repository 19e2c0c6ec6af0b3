// Keeps the page's token fresh, wherever it came from (tokens.js lists the sources). All on the
// page's one thread; the timer lives in the state object's `tokens`, beside the token it renews.
//
// A signed-in session (POST /api/session/token answered 200): the next token is fetched at three
// quarters of the current one's life, and again when a connection ends for an expired token (1008).
// A framing site: the page posts { type: 'parley:token-needed', validUntil } to its parent at start
// (when it has no token), at three quarters of the connection's time (app.js passes the `welcome`'s
// and `refreshed`'s validUntil) and after a 1008; the parent answers with { type: 'parley:token',
// token }. The message asking says nothing secret, so any parent may hear it.
//
// app.js applies a new token (API, name field, WebSocket `refresh`) in hooks.changed(first), and
// says in hooks.mayTake() whether a first token may still be taken: a guest page that has joined
// stays a guest's.

import { ApiError, sessionToken } from './api.js';
import { refreshDelay } from './tokens.js';

const SESSION_RETRY_MS = 10_000;

export class TokenKeeper {
  constructor(tokens, embedded, hooks) {
    this.t = tokens;
    this.embedded = embedded;
    this.hooks = hooks;
    window.addEventListener('message', (event) => {
      if (!embedded || event.source !== window.parent) return;
      const data = event.data;
      if (data?.type === 'parley:token' && typeof data.token === 'string' && data.token !== '') this.offer(data.token, 'frame');
    });
  }

  // At start, without a token from the address: asks the parent, and the server for a session.
  async start() {
    this.askParent(null); // a parent that signs its users in can answer before they join
    try {
      const session = await sessionToken();
      this.t.accounts = true;
      this.offer(session.token, 'session', session.validUntil);
    } catch (error) {
      // 401: a guest on a server with accounts; 404 (or anything else): a server without them.
      this.t.accounts = error instanceof ApiError && error.status === 401;
    }
  }

  offer(fresh, source, validUntil = null) {
    const t = this.t;
    if (fresh === t.token) return;
    if (!t.token && !this.hooks.mayTake()) return;
    const first = !t.token;
    t.token = fresh;
    t.source = source;
    if (source === 'session') this.#planSession(validUntil);
    this.hooks.changed(first);
  }

  askParent(validUntil) {
    if (this.embedded) window.parent.postMessage({ type: 'parley:token-needed', validUntil: validUntil ?? null }, '*');
  }

  // The connection lasts until `validUntil`: a framed page asks its parent for the next token in time.
  connectionLasts(validUntil) {
    if (!this.embedded || this.t.source === 'session') return;
    clearTimeout(this.t.timer);
    const delay = refreshDelay(validUntil, Date.now());
    if (delay !== null) this.t.timer = setTimeout(() => this.askParent(validUntil), delay);
  }

  // A connection ended for an expired token (1008): the reconnect needs a fresh one.
  expired() {
    if (this.t.source === 'session') this.#refreshSession();
    else this.askParent(null);
  }

  #planSession(validUntil) {
    clearTimeout(this.t.timer);
    this.t.validUntil = validUntil;
    const delay = refreshDelay(validUntil, Date.now());
    if (delay !== null) this.t.timer = setTimeout(() => this.#refreshSession(), delay);
  }

  async #refreshSession() {
    try {
      const session = await sessionToken();
      this.offer(session.token, 'session', session.validUntil);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.hooks.ended();
      else this.t.timer = setTimeout(() => this.#refreshSession(), SESSION_RETRY_MS);
    }
  }
}
