// How message text and times are shown, without touching the page: code-point counting (what the
// server counts against `maxMessageLength`), links in a text, and the calendar day of a time for the
// day separators. view.js turns the pieces into elements; node runs the unit tests (src/test/js).

// Characters that end a link: spaces, quotes and angle brackets (which no URL carries raw), and the
// bidirectional controls view.js shows as markers, so that a marker never sits inside a link.
const LINK = /\bhttps?:\/\/[^\s<>"'\u202A-\u202E\u2066-\u2069]+/giu;
// Punctuation that usually ends the sentence around a link rather than the link itself.
const TRAILING = /[.,;:!?]+$/u;

// The server counts code points (Java's codePointCount), not UTF-16 units: an emoji is one.
export function codePoints(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

// The text cut into plain pieces and links: [{ text }, { text, href }, …], in order; joined, the
// pieces' texts give back the whole text. Only http and https become links; anything URL-like with
// another scheme (javascript:, data:) stays text.
export function pieces(text) {
  const out = [];
  let from = 0;
  for (const match of text.matchAll(LINK)) {
    let link = match[0].replace(TRAILING, '');
    // A closing parenthesis belongs to the link only if the link opened one: "(see http://x/a)".
    while (link.endsWith(')') && count(link, '(') < count(link, ')')) link = link.slice(0, -1).replace(TRAILING, '');
    const href = safeHref(link);
    if (href === null) continue;
    if (match.index > from) out.push({ text: text.slice(from, match.index) });
    out.push({ text: link, href });
    from = match.index + link.length;
  }
  if (from < text.length) out.push({ text: text.slice(from) });
  return out;
}

function count(text, char) {
  return text.split(char).length - 1;
}

function safeHref(link) {
  try {
    const url = new URL(link);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

// The local calendar day of a time, as a key that compares equal within the day.
export function dayKey(ms) {
  const date = new Date(ms);
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

// What a day separator says: "Today", "Yesterday", or the date.
export function dayLabel(ms, now = Date.now()) {
  const key = dayKey(ms);
  if (key === dayKey(now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (key === dayKey(yesterday.getTime())) return 'Yesterday';
  return new Date(ms).toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

// Hours and minutes, local time: what a message line shows (its title shows the full date).
export function clock(ms) {
  const date = new Date(ms);
  const pad = (n) => String(n).padStart(2, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
