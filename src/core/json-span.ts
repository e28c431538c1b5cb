/**
 * Finds where a top-level member's value sits in a JSON text, so a relay can forward the client's
 * own bytes for an opaque payload instead of re-serialising it (the hot path's largest avoidable
 * cost). Only ever run on text that JSON.parse has accepted: it does not validate, it locates.
 *
 * Semantics match JSON.parse: keys are compared after unescaping (`"d\u0061ta"` is `data`), and the
 * LAST occurrence of a duplicated key wins — so the span is exactly the value that was validated.
 */
export function memberSpan(text: string, name: string): [number, number] | undefined {
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== 0x7b /* { */) return undefined;
  i = skipWs(text, i + 1);
  if (text.charCodeAt(i) === 0x7d /* } */) return undefined;
  let found: [number, number] | undefined;
  for (;;) {
    // key
    const keyEnd = stringEnd(text, i);
    const rawKey = text.slice(i + 1, keyEnd - 1);
    const key = rawKey.includes('\\') ? (JSON.parse(text.slice(i, keyEnd)) as string) : rawKey;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // ':'
    const start = i;
    const end = valueEnd(text, i);
    if (key === name) found = [start, end];
    i = skipWs(text, end);
    if (text.charCodeAt(i) === 0x2c /* , */) {
      i = skipWs(text, i + 1);
      continue;
    }
    return found;
  }
}

function skipWs(t: string, i: number): number {
  for (;;) {
    const c = t.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** `i` is at an opening quote; returns the index just past the closing quote. */
function stringEnd(t: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = t.indexOf('"', j);
    if (q < 0) return t.length;
    let backslashes = 0;
    for (let k = q - 1; t.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** `i` is at the first character of a value; returns the index just past it. */
function valueEnd(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c === 0x22 /* " */) return stringEnd(t, i);
  if (c === 0x7b || c === 0x5b /* { [ */) {
    let depth = 0;
    let j = i;
    for (;;) {
      const ch = t.charCodeAt(j);
      if (ch === 0x22) {
        j = stringEnd(t, j);
        continue;
      }
      if (ch === 0x7b || ch === 0x5b) depth++;
      else if (ch === 0x7d || ch === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
      if (j >= t.length) return t.length;
    }
  }
  // number, true, false, null: up to the next delimiter
  let j = i;
  for (;;) {
    const ch = t.charCodeAt(j);
    if (ch === 0x2c || ch === 0x7d || ch === 0x5d || ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09 || Number.isNaN(ch)) return j;
    j++;
  }
}

/** The text of a top-level member's value (memberSpan's slice): a client's own bytes, to forward as they are. */
export function memberText(text: string, name: string): string | undefined {
  const span = memberSpan(text, name);
  return span && text.slice(span[0], span[1]);
}

const LEADING_TYPE = '{"type":"';

/**
 * A frame's `type`, for metrics: read off the front when the text starts `{"type":"` (every frame a
 * dialect renders), else located as JSON.parse would see it (a client's own frame); `other` when none.
 */
export function frameTypeOf(text: string): string {
  if (text.startsWith(LEADING_TYPE)) {
    const end = text.indexOf('"', LEADING_TYPE.length);
    const t = text.slice(LEADING_TYPE.length, end);
    if (end > 0 && !t.includes('\\')) return t;
  }
  const raw = memberText(text, 'type');
  const v: unknown = raw === undefined ? undefined : JSON.parse(raw);
  return typeof v === 'string' ? v : 'other';
}
