/** Top-level keys of a raw JSON object text, in order, duplicates kept (JSON.parse would hide them). */
export function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (ch === '{' || ch === '[') {
      depth++;
      expectKey = depth === 1 && ch === '{';
    } else if (ch === '}' || ch === ']') depth--;
    else if (ch === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

/** The next frame of `type` a client got, as the raw text the server sent (the client's raw log is cleared). */
export async function nextRawOf(c: { next(type: string): Promise<unknown>; raw: string[] }, type: string): Promise<string> {
  await c.next(type);
  const text = c.raw.find((r) => (JSON.parse(r) as { type?: unknown }).type === type);
  c.raw.length = 0;
  if (text === undefined) throw new Error(`no raw ${type} frame recorded`);
  return text;
}
