// A small time-series chart drawn as inline SVG: the last few minutes of one number (connections,
// messages/s, joins/s), seeded from the first snapshot's history and extended by each snapshot.

const NS = 'http://www.w3.org/2000/svg';
const W = 300;
const H = 64;
const MIN_SPAN_MS = 60_000;

function svg(tag, attrs = {}) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** The smallest of 1, 2, 5 × 10^k at or above `v` (at least 1): a round top for the y axis. */
export function niceMax(v) {
  if (!(v > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export class Sparkline {
  /** `label`: what it shows, for its accessible name; `format`: the value formatter. */
  constructor(container, { label, format, windowMs = 10 * 60_000 }) {
    this.label = label;
    this.format = format;
    this.windowMs = windowMs;
    this.points = [];
    this.el = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', class: 'spark' });
    this.title = svg('title');
    this.grid = svg('path', { class: 'spark-grid', d: `M0 ${H / 2}H${W}`, 'vector-effect': 'non-scaling-stroke' });
    this.area = svg('path', { class: 'spark-area' });
    this.line = svg('path', { class: 'spark-line', 'vector-effect': 'non-scaling-stroke' });
    this.el.append(this.title, this.grid, this.area, this.line);
    this.top = document.createElement('span');
    this.top.className = 'spark-max';
    this.span = document.createElement('span');
    this.span.className = 'spark-span';
    container.append(this.el, this.top, this.span);
  }

  /** Replaces the series (a new stream's history). */
  seed(points) {
    this.points = points.filter((p) => Number.isFinite(p.ts) && Number.isFinite(p.v)).sort((a, b) => a.ts - b.ts);
    this.render();
  }

  push(ts, v) {
    if (!Number.isFinite(ts) || !Number.isFinite(v)) return;
    const last = this.points[this.points.length - 1];
    if (last && ts <= last.ts) return;
    this.points.push({ ts, v });
    this.render();
  }

  render() {
    const pts = this.points;
    const end = pts.length ? pts[pts.length - 1].ts : 0;
    while (pts.length > 2 && pts[1].ts < end - this.windowMs) pts.shift();
    // The x axis spans what there is (a young server has less than the window), at least a minute.
    const span = Math.max(MIN_SPAN_MS, Math.min(this.windowMs, end - (pts[0]?.ts ?? end)));
    const start = end - span;
    const max = niceMax(Math.max(0, ...pts.map((p) => p.v)));
    const x = (ts) => ((Math.max(start, ts) - start) / span) * W;
    const y = (v) => H - 2 - (v / max) * (H - 4);
    if (pts.length === 0) {
      this.line.setAttribute('d', '');
      this.area.setAttribute('d', '');
    } else {
      const d = pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.ts).toFixed(1)} ${y(p.v).toFixed(1)}`).join('');
      this.line.setAttribute('d', d);
      this.area.setAttribute('d', `${d}L${x(end).toFixed(1)} ${H}L${x(pts[0].ts).toFixed(1)} ${H}Z`);
    }
    this.top.textContent = this.format(max);
    const minutes = pts.length > 1 ? Math.max(1, Math.round(span / 60_000)) : 0;
    this.span.textContent = minutes ? `last ${minutes} min` : '';
    const lastV = pts.length ? this.format(pts[pts.length - 1].v) : 'no data yet';
    this.title.textContent = `${this.label}: ${lastV} now${minutes ? `; over the last ${minutes} min, at most ${this.format(Math.max(...pts.map((p) => p.v)))}` : ''}`;
  }
}
