import { test } from 'node:test';
import assert from 'node:assert/strict';
import { destination, explain } from '../../main/resources/web/signin.js';

const ORIGIN = 'https://chat.example.com';

test('goes on to a next path on this site, and to / for anything else', () => {
  assert.equal(destination('?next=/%3Froom%3Dlobby', ORIGIN), '/?room=lobby');
  assert.equal(destination('?next=/rooms#x', ORIGIN), '/rooms#x');
  assert.equal(destination('', ORIGIN), '/');
  for (const foreign of ['//evil.example/', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)']) {
    assert.equal(destination('?next=' + encodeURIComponent(foreign), ORIGIN), '/', foreign);
  }
});

test('explains each refusal in words, with the wait of a rate limit', () => {
  assert.equal(explain(401, { code: 'bad_credentials' }), 'Wrong name or password.');
  assert.match(explain(409, { code: 'name_taken' }), /taken/);
  assert.match(explain(403, { code: 'signup_closed' }), /does not take sign-ups/);
  assert.equal(explain(429, { code: 'rate_limited', retryAfter: 41_500 }), 'Too many attempts; try again in 42 s.');
  assert.equal(explain(400, { code: 'invalid_name', message: 'a name must be 1-32 characters' }),
    'a name must be 1-32 characters');
  assert.equal(explain(502, null), 'The server answered 502.');
});
