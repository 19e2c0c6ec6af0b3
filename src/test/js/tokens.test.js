import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claim, fromAddress, refreshDelay } from '../../main/resources/web/tokens.js';

const b64url = (s) => Buffer.from(s).toString('base64url');

test('reads a claim of a token, names in UTF-8 included', () => {
  const token = `${b64url('{"alg":"HS256"}')}.${b64url(JSON.stringify({ sub: 'u-1', name: 'Zoë 😀' }))}.sig`;
  assert.equal(claim(token, 'name'), 'Zoë 😀');
  assert.equal(claim(token, 'sub'), 'u-1');
  assert.equal(claim(token, 'missing'), '');
  assert.equal(claim('not a token', 'name'), '');
});

test('takes a token from the fragment before the query', () => {
  assert.equal(fromAddress('#token=a', '?token=b'), 'a');
  assert.equal(fromAddress('', '?token=b'), 'b');
  assert.equal(fromAddress('', ''), null);
});

test('refreshes at three quarters of the time left', () => {
  assert.equal(refreshDelay(1000 + 400_000, 1000), 300_000);
  assert.equal(refreshDelay(500, 1000), 1000);
  assert.equal(refreshDelay(undefined, 0), null);
});
