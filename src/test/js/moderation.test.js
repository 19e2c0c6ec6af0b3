import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDeletion, blocking, clockSeconds, deletedText, mayModerate, ownTimeout, removedText, sendBlock, tombstone }
  from '../../main/resources/web/moderation.js';
import { Outbox } from '../../main/resources/web/outbox.js';

const msg = (seq, text = `t${seq}`) => ({ room: 'lobby', seq, id: `i${seq}`, user: 'guest:bob', from: 'bob', text, time: seq });
const lines = (...seqs) => seqs.map((seq) => ({ kind: 'message', msg: msg(seq) }));

test('a deleted event drops the text of that message only, and says by whom', () => {
  const shown = [{ kind: 'presence', text: 'bob joined' }, ...lines(1, 2, 3)];
  assert.equal(applyDeletion({ type: 'deleted', seq: 2, by: 'u-admin', at: 99 }, shown), true);
  assert.equal(shown[2].msg.text, undefined);
  assert.deepEqual(shown[2].msg.deleted, { by: 'u-admin', at: 99 });
  assert.equal(shown[1].msg.text, 't1');
  assert.equal(shown[3].msg.text, 't3');
  assert.equal(deletedText(shown[2].msg.deleted), 'message deleted by u-admin');
  assert.equal(applyDeletion({ type: 'deleted', seq: 2, by: 'other', at: 100 }, shown), false, 'again: nothing changes');
  assert.equal(shown[2].msg.deleted.by, 'u-admin');
});

test('a cleared event deletes up to upTo and keeps earlier deletions their own by and at', () => {
  const shown = lines(1, 2, 3, 4);
  applyDeletion({ type: 'deleted', seq: 1, by: 'mo', at: 5 }, shown);
  assert.equal(applyDeletion({ type: 'cleared', upTo: 3, by: 'root', at: 7 }, shown), true);
  assert.deepEqual(shown.map((l) => l.msg.deleted ?? null), [{ by: 'mo', at: 5 }, { by: 'root', at: 7 }, { by: 'root', at: 7 }, null]);
  assert.equal(shown[3].msg.text, 't4');
});

test('a message waiting for its turn is deleted too, so it never shows its text', () => {
  const pending = new Map([[5, msg(5)], [6, msg(6)]]);
  assert.equal(applyDeletion({ type: 'deleted', seq: 6, by: 'mo', at: 1 }, [], pending), false);
  assert.equal(pending.get(6).text, undefined);
  assert.equal(pending.get(5).text, 't5');
});

test('a tombstone from history stays as the server sent it', () => {
  const t = { ...msg(3), text: undefined, deleted: { by: 'mo', at: 4 } };
  assert.equal(tombstone(t, 'x', 9), t);
  assert.equal(deletedText(undefined), 'message deleted');
});

test('removed says why', () => {
  assert.equal(removedText('lobby', 'banned'), 'You were banned from lobby.');
  assert.equal(removedText('lobby', 'access_revoked'), 'Your access to lobby was revoked.');
  assert.match(removedText('lobby', 'whatever'), /taken out of lobby/);
});

test('timed_out says until when, and blocks until then; banned blocks for good; others are no block', () => {
  const until = new Date(2026, 0, 2, 9, 5, 7).getTime();
  const block = sendBlock({ code: 'timed_out', room: 'lobby', until, retryAfter: 60_000 }, until - 60_000);
  assert.equal(block.until, until);
  assert.match(block.text, /until 09:05:07/);
  assert.equal(blocking(block, until - 1), true);
  assert.equal(blocking(block, until), false);
  assert.equal(sendBlock({ code: 'timed_out', retryAfter: 1000 }, 5).until, 1005, 'no until: from retryAfter');
  const ban = sendBlock({ code: 'banned', room: 'lobby' }, 0);
  assert.equal(ban.until, null);
  assert.equal(blocking(ban, Number.MAX_SAFE_INTEGER), true);
  assert.equal(sendBlock({ code: 'rate_limited', retryAfter: 5 }, 0), null);
  assert.equal(blocking(null, 0), false);
  assert.equal(clockSeconds(new Date(2026, 0, 1, 23, 0, 9).getTime()), '23:00:09');
});

test('our own timeout from a moderated event or a joined: a block until then, none when lifted or over', () => {
  const until = new Date(2026, 0, 2, 9, 5, 7).getTime();
  const told = ownTimeout({ type: 'moderated', action: 'timeout', room: 'lobby', user: 'guest:gus', until }, 'guest:gus', until - 1000);
  assert.equal(told.until, until);
  assert.match(told.text, /timed out in lobby until 09:05:07/);
  assert.equal(ownTimeout({ type: 'moderated', action: 'timeout', room: 'lobby', user: 'guest:gus', until: 0 }, 'guest:gus', 5), null, 'lifted');
  assert.equal(ownTimeout({ type: 'moderated', action: 'timeout', room: 'lobby', user: 'guest:bob', until }, 'guest:gus', 5), undefined, 'someone else');
  assert.equal(ownTimeout({ type: 'moderated', action: 'ban', room: 'lobby', user: 'guest:gus' }, 'guest:gus', 5), undefined);
  assert.equal(ownTimeout({ type: 'joined', room: 'lobby', timedOutUntil: until }, 'guest:gus', until - 1).until, until);
  assert.equal(ownTimeout({ type: 'joined', room: 'lobby', timedOutUntil: until }, 'guest:gus', until), null, 'over');
  assert.equal(ownTimeout({ type: 'joined', room: 'lobby' }, 'guest:gus', 5), null);
});

test('owners, moderators and admins may moderate; members and strangers may not', () => {
  assert.equal(mayModerate('owner', []), true);
  assert.equal(mayModerate('moderator', undefined), true);
  assert.equal(mayModerate(null, ['admin']), true);
  assert.equal(mayModerate('member', ['user']), false);
  assert.equal(mayModerate(null, null), false);
});

test('slow_mode is waited out like rate_limited: queued again after retryAfter, not failed', () => {
  const outbox = new Outbox('p');
  const a = outbox.add('lobby', 'a');
  outbox.sending(a.id);
  outbox.refused(a.id, 'slow_mode', 'slow', 3000, 1000);
  assert.equal(a.state, 'queued');
  assert.equal(outbox.next('lobby', 3999), null);
  assert.equal(outbox.next('lobby', 4000), a);
});
