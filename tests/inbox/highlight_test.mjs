// The inbox's conversion of the classifiers' UTF-8 byte offsets to
// JavaScript string indices (crawler/inbox/static/js/highlight.js), run by
// Node's test runner (CTest: "unit: inbox highlight offsets").
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {byteOffsetConverter, sliceBytes, spansToRanges} from
  '../../crawler/inbox/static/js/highlight.js';

const encoder = new TextEncoder();

// The byte span of the first `word` in `text`, as the classifiers give it.
function spanOf(text, word) {
  const index = text.indexOf(word);
  assert.notEqual(index, -1, `${word} in ${text}`);
  const start = encoder.encode(text.slice(0, index)).length;
  return {start, end: start + encoder.encode(word).length};
}

const TEXT = 'Café ☕ “waited” 9 hours at Leeds A&E 😀 naïve <script>x</script> Zoë';

test('every word found by its byte span', () => {
  for (const word of ['Café', '☕', '“waited”', 'waited', '9 hours', 'A&E', '😀', 'naïve', 'ï',
    '<script>x</script>', 'Zoë', 'ë']) {
    const {start, end} = spanOf(TEXT, word);
    assert.equal(sliceBytes(TEXT, start, end), word);
  }
});

test('ASCII text: byte offsets are string indices', () => {
  const text = 'Waited nine hours at Riverside A&E';
  const convert = byteOffsetConverter(text);
  for (let i = 0; i <= text.length; i += 1) assert.equal(convert(i), i);
});

test('offsets inside a character widen to the whole character', () => {
  const text = 'aé😀b';  // bytes: a=0, é=1..2, 😀=3..6, b=7
  assert.deepEqual(spansToRanges(text, [{start: 2, end: 3}]), [{start: 1, end: 2}]);
  assert.deepEqual(spansToRanges(text, [{start: 4, end: 5}]), [{start: 2, end: 4}]);
  assert.equal(sliceBytes(text, 4, 5), '😀');
  assert.equal(sliceBytes(text, 7, 8), 'b');
});

test('bad spans are dropped, overlapping ones merged', () => {
  const text = 'one two three';
  assert.deepEqual(spansToRanges(text, [
    {start: 5, end: 4}, {start: 3, end: 3}, {start: -1, end: 2}, {start: 'x', end: 2},
    {start: 100, end: 200}, null, {},
  ]), []);
  assert.deepEqual(spansToRanges(text, [{start: 8, end: 13}, {start: 0, end: 7}, {start: 4, end: 9}]),
    [{start: 0, end: 13}]);
  assert.deepEqual(spansToRanges(text, [{start: 10, end: 99}]), [{start: 10, end: 13}]);
  assert.equal(sliceBytes(text, 8, 200), 'three');
  assert.equal(sliceBytes('', 0, 4), '');
});
