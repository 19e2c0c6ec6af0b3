import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Presence } from '../../main/resources/web/presence.js';

test('a name joins on its first connection and leaves with its last', () => {
  const p = new Presence();
  p.reset(['ada']);
  assert.deepEqual(p.change(['bob'], []), { appeared: ['bob'], gone: [] });
  assert.deepEqual(p.change(['bob'], []), { appeared: [], gone: [] }, 'a second tab');
  assert.deepEqual(p.change([], ['bob']), { appeared: [], gone: [] });
  assert.deepEqual(p.change([], ['bob']), { appeared: [], gone: ['bob'] });
});

test('a reconnect that joins before the old connection leaves prints nothing', () => {
  const p = new Presence();
  p.reset(['ada', 'bob']);
  assert.deepEqual(p.change(['bob'], []), { appeared: [], gone: [] });
  assert.deepEqual(p.change([], ['bob']), { appeared: [], gone: [] });
  assert.deepEqual(p.change(['carl'], ['carl']), { appeared: [], gone: [] }, 'came and went in one delta');
});

test('a listing in pages replaces the counts silently', () => {
  const p = new Presence();
  p.reset(['old']);
  p.beginListing();
  assert.equal(p.page(['ada', 'bob'], false), false);
  assert.equal(p.page(['ada'], true), true);
  assert.deepEqual(p.list(), [{ name: 'ada', connections: 2 }, { name: 'bob', connections: 1 }]);
});
