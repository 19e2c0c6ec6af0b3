import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../../main/resources/web/outbox.js';

function drain(outbox, room, now, answer) {
  // Plays a server that answers each send at once: answer(entry) -> { seq } or { code, retryAfter }.
  const stored = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const entry = outbox.next(room, now);
    if (!entry) {
      const due = outbox.nextDue(now);
      if (due === null) break;
      now = due;
      continue;
    }
    outbox.sending(entry.id);
    const reply = answer(entry, now);
    if (reply.code) outbox.refused(entry.id, reply.code, reply.code, reply.retryAfter, now);
    else {
      stored.push(entry.text);
      outbox.acked(entry.id, stored.length);
      outbox.settle(room, stored.length);
    }
  }
  return stored;
}

test('one in flight per room: the next goes only once the one before is answered', () => {
  const outbox = new Outbox('p');
  const a = outbox.add('lobby', 'a');
  outbox.add('lobby', 'b');
  const c = outbox.add('other', 'c');
  assert.equal(outbox.next('lobby', 0), a);
  outbox.sending(a.id);
  assert.equal(outbox.next('lobby', 0), null);
  assert.equal(outbox.next('other', 0), c, 'rooms do not wait for each other');
  outbox.acked(a.id, 1);
  assert.equal(outbox.next('lobby', 0).text, 'b');
});

test('a burst against a rate limit arrives whole and in order', () => {
  const outbox = new Outbox('p');
  for (let i = 1; i <= 100; i++) outbox.add('lobby', 'm' + i);
  // A token bucket like the server's: 20 at once, then 10 a second.
  let tokens = 20;
  let at = 0;
  const stored = drain(outbox, 'lobby', 0, (entry, now) => {
    tokens = Math.min(20, tokens + ((now - at) / 1000) * 10);
    at = now;
    if (tokens >= 1) {
      tokens -= 1;
      return {};
    }
    return { code: 'rate_limited', retryAfter: Math.ceil(((1 - tokens) / 10) * 1000) };
  });
  assert.deepEqual(stored, Array.from({ length: 100 }, (_, i) => 'm' + (i + 1)));
  assert.equal(outbox.entries.length, 0);
});

test('waits the retryAfter the server asked for', () => {
  const outbox = new Outbox('p');
  const a = outbox.add('lobby', 'a');
  outbox.sending(a.id);
  outbox.refused(a.id, 'rate_limited', 'slow down', 300, 1000);
  assert.equal(outbox.next('lobby', 1299), null);
  assert.equal(outbox.nextDue(1000), 1300);
  assert.equal(outbox.next('lobby', 1300), a);
});

test('a refusal for good fails that message only, and retry sends it again with its id', () => {
  const outbox = new Outbox('p');
  const a = outbox.add('lobby', 'a'.repeat(5000));
  const b = outbox.add('lobby', 'b');
  outbox.sending(a.id);
  outbox.refused(a.id, 'message_too_long', 'too long', null, 0);
  assert.equal(a.state, 'failed');
  assert.deepEqual(a.error, { code: 'message_too_long', message: 'too long' });
  assert.equal(outbox.next('lobby', 0), b);
  outbox.sending(b.id);
  outbox.acked(b.id, 7);
  assert.equal(outbox.retry(a.id).id, a.id);
  assert.equal(outbox.next('lobby', 0), a);
});

test('a reconnect sends again what was in flight, with the same id', () => {
  const outbox = new Outbox('p');
  const a = outbox.add('lobby', 'a');
  outbox.sending(a.id);
  outbox.requeueInFlight();
  assert.equal(outbox.next('lobby', 0).id, a.id);
});

test('survives a reload: what was pending comes back queued, sent ones wait for their seq', () => {
  const outbox = new Outbox('p');
  const a = outbox.add('lobby', 'a');
  const b = outbox.add('lobby', 'b');
  const c = outbox.add('lobby', 'c');
  outbox.sending(a.id);
  outbox.acked(a.id, 4);
  outbox.sending(b.id);
  const again = new Outbox('q', JSON.parse(JSON.stringify(outbox)));
  assert.deepEqual(again.entries.map((e) => [e.id, e.state]), [[a.id, 'sent'], [b.id, 'queued'], [c.id, 'queued']]);
  assert.equal(again.next('lobby', 0).id, b.id);
  assert.notEqual(again.add('lobby', 'd').id, a.id, 'a new page numbers with its own prefix');
  again.settle('lobby', 4);
  assert.deepEqual(again.entries.map((e) => e.text), ['b', 'c', 'd']);
});

test('an entry is settled when its own message is seen, even before its ack', () => {
  const outbox = new Outbox('p');
  const a = outbox.add('lobby', 'a');
  outbox.sending(a.id);
  outbox.settle('lobby', 0, [a.id]);
  assert.equal(outbox.entries.length, 0);
});

test('ignores malformed saved entries', () => {
  const outbox = new Outbox('p', { entries: [null, { id: 1 }, { id: 'x', room: 'r', text: 't', state: 'sending' }] });
  assert.deepEqual(outbox.entries.map((e) => [e.id, e.state]), [['x', 'queued']]);
});
