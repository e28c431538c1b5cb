// Small helpers shared by the dashboard's modules: element building and number/time formatting.

export const $ = (id) => document.getElementById(id);

/**
 * An element with attributes and children. Text always goes in as text (server data is never
 * parsed as HTML). `attrs`: `class`, `text`, `dataset` ({…}), anything else as an attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null && c !== false) el.append(c);
  return el;
}

/** Sets text only when it changed: snapshots arrive every second and most values stay put. */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/**
 * Keeps `parent`'s children in step with `items` by key: existing elements are updated in place
 * (focus, selection and open menus survive a snapshot), new ones created, gone ones removed, and
 * the order made right with as few moves as possible.
 */
export function syncChildren(parent, items, keyOf, create, update, cache) {
  const seen = new Set();
  let prev = null;
  for (const item of items) {
    const key = keyOf(item);
    seen.add(key);
    let el = cache.get(key);
    if (!el) {
      el = create(item);
      cache.set(key, el);
    }
    update(el, item);
    const want = prev ? prev.nextSibling : parent.firstChild;
    if (want !== el) parent.insertBefore(el, want);
    prev = el;
  }
  for (const [key, el] of cache) {
    if (seen.has(key)) continue;
    el.remove();
    cache.delete(key);
  }
}

const int = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const one = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function fmtCount(n) {
  return typeof n === 'number' && Number.isFinite(n) ? int.format(n) : '–';
}

/** A rate: one decimal below 10 (0.4 joins/s reads better than 0), whole numbers above. */
export function fmtRate(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  return n < 10 ? one.format(n) : int.format(n);
}

export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : one.format(n)} ${units[i]}`;
}

/** "3d 4h", "2h 05m", "4m 10s", "12s": two units, the largest first. */
export function fmtDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (x) => String(x).padStart(2, '0');
  if (d > 0) return `${d}d ${hr}h`;
  if (hr > 0) return `${hr}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

/** How long ago, from the server's clock (`now`, a snapshot's ts) so browser clock skew does not show. */
export function fmtAgo(then, now) {
  if (typeof then !== 'number' || typeof now !== 'number') return '–';
  const ms = Math.max(0, now - then);
  return ms < 5000 ? 'just now' : `${fmtDuration(ms)} ago`;
}

export function fmtDateTime(ms) {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toLocaleString() : '';
}
