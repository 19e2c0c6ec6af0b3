// Where this page's token comes from, and what it says. In order of precedence: the page's address
// (#token=… or ?token=…), a site that frames the page (postMessage `parley:token`, app.js), the
// signed-in session (POST /api/session/token, api.js). Without any, the page is a guest's.
//
// The server checks every token; the page only reads its claims, to show the name before joining
// and to know its user id while long polling.

export function fromAddress(hash, search) {
  return new URLSearchParams(hash.slice(1)).get('token') ?? new URLSearchParams(search).get('token');
}

export function claim(token, name) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes))[name] ?? '';
  } catch {
    return '';
  }
}

// When to fetch the next token: at three quarters of the time left until `validUntil` (ms since
// the epoch), at least a second from now; null if there is no end.
export function refreshDelay(validUntil, now) {
  if (!Number.isFinite(validUntil)) return null;
  return Math.max(1000, (validUntil - now) * 0.75);
}
