// The HTTP API as the browser client uses it (docs/PROTOCOL.md, "HTTP API"): a room's messages
// (long polling when WebSocket is blocked, and older pages), sends, the room list, and the signed-in
// session's tokens (POST /api/session/token, DELETE /api/session; CONTRACT11 "Accounts HTTP API").
//
// A refusal comes back as an ApiError carrying the protocol's error code and, for `rate_limited`,
// how long to wait; a network failure (server down, connection cut) as the TypeError fetch throws;
// a cancelled read as an AbortError; a request left unanswered too long (a connection that died
// without a word, as some proxies and NATs let them) as a TimeoutError.
//
// One Api serves every room; `token` and `name` are read at each call, so a fresh token applies to
// the next request.

const SLACK_MS = 10_000; // beyond a long poll's wait, how long an answer may take

export class ApiError extends Error {
  constructor(status, body, retryAfterMs) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? `http_${status}`;
    this.retryAfterMs = retryAfterMs;
    this.until = Number.isFinite(body?.until) ? body.until : null; // a timeout's end (`timed_out`)
  }
}

export class Api {
  // A `token` makes the requests a user's; without one, `name` names the guest who sends and polls.
  constructor(name, token) {
    this.name = name;
    this.token = token;
  }

  // Messages after `since` (the latest ones when it is null); with `waitSeconds`, the server holds
  // the request until one arrives or the time runs out.
  read(room, since, waitSeconds, signal) {
    const query = new URLSearchParams();
    if (since !== null) query.set('since', since);
    if (waitSeconds > 0) query.set('wait', waitSeconds);
    const timeout = AbortSignal.timeout(waitSeconds * 1000 + SLACK_MS);
    const path = messages(room);
    // Named, a poller is a member of the room it polls (docs/PROTOCOL.md, presence leases).
    return this.#call(query.size > 0 ? `${path}?${query}` : path, {
      headers: this.#guestName(),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  }

  // The `limit` messages before seq `before`.
  older(room, before, limit) {
    return this.#call(`${messages(room)}?${new URLSearchParams({ before, limit })}`, { signal: AbortSignal.timeout(SLACK_MS) });
  }

  send(room, id, text) {
    return this.#call(messages(room), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...this.#guestName() },
      body: JSON.stringify({ id, text }),
      signal: AbortSignal.timeout(SLACK_MS),
    });
  }

  // One page of a room's members: { members, names, next }.
  members(room, after, limit) {
    const query = new URLSearchParams({ limit });
    if (after) query.set('after', after);
    return this.#call(`/api/rooms/${encodeURIComponent(room)}/members?${query}`, { signal: AbortSignal.timeout(SLACK_MS) });
  }

  // The rooms that exist, most recently active first.
  rooms(limit) {
    return this.#call(`/api/rooms?limit=${limit}`, { signal: AbortSignal.timeout(SLACK_MS) });
  }

  // Header values are Latin-1 at best: the protocol carries the name percent-encoded UTF-8.
  #guestName() {
    return this.token || !this.name ? {} : { 'X-Parley-Name': encodeURIComponent(this.name) };
  }

  async #call(url, init) {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('Authorization', `Bearer ${this.token}`);
    return json(await fetch(url, { ...init, headers, cache: 'no-store' }));
  }
}

// A fresh token for the signed-in session the cookie names: 200 { token, validUntil, name, user },
// 401 `unauthorized` (no session: a guest), 404 where the server has no accounts.
export async function sessionToken() {
  return json(await fetch('/api/session/token', {
    method: 'POST', credentials: 'same-origin', cache: 'no-store', signal: AbortSignal.timeout(SLACK_MS),
  }));
}

export async function signOut() {
  return json(await fetch('/api/session', {
    method: 'DELETE', credentials: 'same-origin', cache: 'no-store', signal: AbortSignal.timeout(SLACK_MS),
  }));
}

function messages(room) {
  return `/api/rooms/${encodeURIComponent(room)}/messages`;
}

async function json(response) {
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body, retryAfterMs(response, body));
  return body;
}

// The body's `retryAfter` is in milliseconds; the Retry-After header, in seconds.
function retryAfterMs(response, body) {
  if (Number.isFinite(body?.retryAfter)) return body.retryAfter;
  const seconds = Number(response.headers.get('Retry-After'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null;
}
