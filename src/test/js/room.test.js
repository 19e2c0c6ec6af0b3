import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Room } from '../../main/resources/web/room.js';

const msg = (seq) => ({ type: 'message', seq, text: 'm' + seq });

function room() {
  const shown = [];
  const r = new Room('lobby', (m) => shown.push(m.seq));
  return { r, shown };
}

test('shows each seq once, in order, holding back what comes after a gap', () => {
  const { r, shown } = room();
  r.joined({ seq: 3, history: [msg(2), msg(3)] });
  r.accept(msg(5));
  r.accept(msg(3));
  assert.deepEqual(shown, [2, 3]);
  assert.deepEqual(r.nextFetch(), { type: 'history', room: 'lobby', since: 3, limit: 500 });
  r.history({ messages: [msg(4), msg(5)] });
  assert.deepEqual(shown, [2, 3, 4, 5]);
  assert.equal(r.caughtUp, true);
});

test('a re-join asks for what was missed since the last seq shown', () => {
  const { r } = room();
  r.joined({ seq: 2, history: [msg(1), msg(2)] });
  assert.deepEqual(r.joinRequest(), { type: 'join', room: 'lobby', since: 2 });
});

test('stops waiting for what retention removed', () => {
  const { r, shown } = room();
  r.joined({ seq: 1, history: [msg(1)] });
  r.joined({ seq: 1500, recovered: false, firstSeq: 501, history: [msg(501)] });
  assert.deepEqual(shown, [1, 501]);
});

test('pages back before the oldest shown until the start of the room', () => {
  const { r } = room();
  r.joined({ seq: 120, firstSeq: 1, history: [msg(101), msg(120)].slice(0, 1) });
  assert.equal(r.first, 101);
  assert.deepEqual(r.olderRequest(50), { type: 'history', room: 'lobby', before: 101, limit: 50 });
  assert.equal(r.olderRequest(50), null, 'one page in flight at a time');
  const page = r.older({ messages: Array.from({ length: 50 }, (_, i) => msg(51 + i)) }, 50);
  assert.equal(page[0].seq, 51);
  assert.equal(r.first, 51);
  r.olderRequest(50);
  r.older({ messages: Array.from({ length: 50 }, (_, i) => msg(1 + i)) }, 50);
  assert.equal(r.atStart, true);
  assert.equal(r.olderRequest(50), null);
});

test('does not page back past the oldest message the server stores', () => {
  const { r } = room();
  r.joined({ seq: 1001, firstSeq: 1000, history: [msg(1000), msg(1001)] });
  assert.equal(r.olderRequest(), null);
  assert.equal(r.atStart, true);
});
