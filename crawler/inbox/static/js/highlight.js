// The classifiers' decisions say where they matched as UTF-8 byte offsets
// into the post's text; JavaScript strings are indexed in UTF-16 code units.
// These convert one to the other and wrap the matched words in <mark>
// elements, built as DOM nodes around Text nodes (never an HTML string).
import {h, text} from './dom.js';

function utf8Length(codePoint) {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3;
  return 4;
}

// A converter from UTF-8 byte offsets to UTF-16 indices of `value`. An
// offset inside a character moves to that character's start (`roundUp`
// false) or to its end (true); offsets past the end clamp to the end.
export function byteOffsetConverter(value) {
  // byteStarts[i], utf16Starts[i]: where the i-th code point begins.
  const byteStarts = [];
  const utf16Starts = [];
  let bytes = 0;
  let index = 0;
  for (const character of value) {
    const codePoint = character.codePointAt(0);
    byteStarts.push(bytes);
    utf16Starts.push(index);
    bytes += utf8Length(codePoint);
    index += character.length;
  }
  const totalBytes = bytes;
  const totalIndex = index;
  return (byteOffset, roundUp = false) => {
    if (!Number.isFinite(byteOffset) || byteOffset <= 0) return 0;
    if (byteOffset >= totalBytes) return totalIndex;
    // Binary search for the last code point starting at or before the offset.
    let low = 0;
    let high = byteStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (byteStarts[middle] <= byteOffset) low = middle; else high = middle - 1;
    }
    if (byteStarts[low] === byteOffset || !roundUp) return utf16Starts[low];
    return low + 1 < utf16Starts.length ? utf16Starts[low + 1] : totalIndex;
  };
}

// [{start, end}] byte spans -> sorted, merged [{start, end}] string index
// ranges; spans that are empty, inverted or not numbers are dropped.
export function spansToRanges(value, spans) {
  const convert = byteOffsetConverter(value);
  const ranges = [];
  for (const span of spans) {
    const start = Number(span?.start);
    const end = Number(span?.end);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start) continue;
    const from = convert(start, false);
    const to = convert(end, true);
    if (to > from) ranges.push({start: from, end: to});
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end);
  const merged = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range.start <= last.end) {
      last.end = Math.max(last.end, range.end);
    } else {
      merged.push({...range});
    }
  }
  return merged;
}

// The text of `value` between byte offsets, or '' when they do not fit.
export function sliceBytes(value, start, end) {
  const [range] = spansToRanges(value, [{start, end}]);
  return range ? value.slice(range.start, range.end) : '';
}

// A DocumentFragment of `value` with the spans wrapped in <mark>.
export function highlighted(value, spans) {
  const fragment = document.createDocumentFragment();
  let at = 0;
  for (const range of spansToRanges(value, spans)) {
    if (range.start > at) fragment.appendChild(text(value.slice(at, range.start)));
    fragment.appendChild(h('mark', {class: 'earshot-match'}, value.slice(range.start, range.end)));
    at = range.end;
  }
  if (at < value.length) fragment.appendChild(text(value.slice(at)));
  return fragment;
}
