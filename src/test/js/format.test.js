import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codePoints, pieces, dayKey, dayLabel } from '../../main/resources/web/format.js';

test('counts code points as the server does, not UTF-16 units', () => {
  assert.equal(codePoints('abc'), 3);
  assert.equal(codePoints('😀😀'), 2); // four UTF-16 units
  assert.equal(codePoints('e\u0301'), 2); // a combining accent is a code point of its own
  assert.equal(codePoints(''), 0);
});

test('finds http and https links and gives back the whole text', () => {
  const text = 'see https://example.org/a?b=1 and http://x.test/ now';
  const got = pieces(text);
  assert.deepEqual(got, [
    { text: 'see ' },
    { text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
    { text: ' and ' },
    { text: 'http://x.test/', href: 'http://x.test/' },
    { text: ' now' },
  ]);
  assert.equal(got.map((p) => p.text).join(''), text);
});

test('never links other schemes', () => {
  for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'ftp://example.org/', 'xhttp://a']) {
    assert.ok(pieces(text).every((p) => p.href === undefined), text);
  }
  assert.deepEqual(pieces('<a href="javascript:x">http://ok.test/</a>').filter((p) => p.href).map((p) => p.href),
    ['http://ok.test/']);
});

test('leaves sentence punctuation and unbalanced parentheses out of a link', () => {
  assert.deepEqual(pieces('look: https://a.test/x.').filter((p) => p.href).map((p) => p.text), ['https://a.test/x']);
  assert.deepEqual(pieces('(see https://a.test/y)').filter((p) => p.href).map((p) => p.text), ['https://a.test/y']);
  assert.deepEqual(pieces('https://en.wikipedia.org/wiki/Foo_(bar)').filter((p) => p.href).map((p) => p.text),
    ['https://en.wikipedia.org/wiki/Foo_(bar)']);
});

test('a direction control ends a link, so it is never inside one', () => {
  const got = pieces('http://a.test/\u202Egnp.exe');
  assert.equal(got[0].href, 'http://a.test/');
  assert.equal(got[1].text, '\u202Egnp.exe');
});

test('days: today, yesterday, else the date', () => {
  const now = new Date(2026, 11, 1, 10, 0).getTime();
  assert.equal(dayLabel(new Date(2026, 11, 1, 0, 1).getTime(), now), 'Today');
  assert.equal(dayLabel(new Date(2026, 10, 30, 23, 59).getTime(), now), 'Yesterday');
  assert.match(dayLabel(new Date(2026, 10, 29, 12).getTime(), now), /2026/);
  assert.equal(dayKey(new Date(2026, 11, 1, 0, 0).getTime()), dayKey(new Date(2026, 11, 1, 23, 59).getTime()));
  assert.notEqual(dayKey(new Date(2026, 11, 1, 23, 59).getTime()), dayKey(new Date(2026, 11, 2, 0, 0).getTime()));
});
