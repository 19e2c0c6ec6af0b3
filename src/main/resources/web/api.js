// The HTTP API as the browser client uses it when WebSocket is blocked (docs/PROTOCOL.md, "HTTP
// API"): read a room's messages after a seq, waiting for new ones (long polling), and send one.
//
// A refusal comes back as an ApiError carrying the protocol's error code and, for `rate_limited`,
// how long to wait; a network failure (server down, connection cut) as the TypeError fetch throws;
// a cancelled read as an AbortError; a request left unanswered too long (a connection that died
// without a word, as some proxies and NATs let them) as a TimeoutError.

const SLACK_MS = 10_000; // beyond a long poll's wait, how long an answer may take

export class ApiError extends Error {
  constructor(status, body, retryAfterMs) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? `http_${status}`;
    this.retryAfterMs = retryAfterMs;
  }
}

export class Api {
  // A `token` makes the requests a user's; without one, `name` names the guest who sends (guests
  // read without a name).
  constructor(room, name, token) {
    this.path = `/api/rooms/${encodeURIComponent(room)}/messages`;
    this.name = name;
    this.token = token;
  }

  // Messages after `since` (the latest ones when it is null); with `waitSeconds`, the server holds
  // the request until one arrives or the time runs out.
  read(since, waitSeconds, signal) {
    const query = new URLSearchParams();
    if (since !== null) query.set('since', since);
    if (waitSeconds > 0) query.set('wait', waitSeconds);
    const timeout = AbortSignal.timeout(waitSeconds * 1000 + SLACK_MS);
    return this.#call(query.size > 0 ? `${this.path}?${query}` : this.path, {
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  }

  send(id, text) {
    // Header values are Latin-1 at best: the protocol carries the name percent-encoded UTF-8.
    const guest = this.token ? {} : { 'X-Parley-Name': encodeURIComponent(this.name) };
    return this.#call(this.path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...guest },
      body: JSON.stringify({ id, text }),
      signal: AbortSignal.timeout(SLACK_MS),
    });
  }

  async #call(url, init) {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('Authorization', `Bearer ${this.token}`);
    const response = await fetch(url, { ...init, headers, cache: 'no-store' });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, body, retryAfterMs(response, body));
    return body;
  }
}

// The body's `retryAfter` is in milliseconds; the Retry-After header, in seconds.
function retryAfterMs(response, body) {
  if (Number.isFinite(body?.retryAfter)) return body.retryAfter;
  const seconds = Number(response.headers.get('Retry-After'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null;
}
