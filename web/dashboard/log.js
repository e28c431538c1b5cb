// The live log panel (#log): the server's pino lines as they come, with a level filter, a search
// box, pause and follow. At most MAX_LINES stay in the DOM (the oldest go first), so a page left
// open all day stays as fast as at the start.

export const MAX_LINES = 2000;
const LEVELS = [
  [10, 'trace'],
  [20, 'debug'],
  [30, 'info'],
  [40, 'warn'],
  [50, 'error'],
  [60, 'fatal'],
];
/** Fields every line has, shown in their own columns or not at all. */
const OWN = new Set(['level', 'time', 'msg', 'node', 'service', 'pid', 'hostname', 'v']);
const MAX_VALUE = 240;

export function levelName(n) {
  let name = 'trace';
  for (const [v, s] of LEVELS) if (n >= v) name = s;
  return name;
}

function valueText(v) {
  let s;
  if (typeof v === 'string') s = v;
  else if (v && typeof v === 'object' && typeof v.message === 'string') s = v.message; // a serialised error
  else s = JSON.stringify(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
}

function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return typeof iso === 'string' ? iso : '';
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export class LogPanel {
  constructor({ list, level, search, pause, follow, info }) {
    Object.assign(this, { list, levelEl: level, searchEl: search, pauseEl: pause, followEl: follow, infoEl: info });
    /** Lines in the DOM, oldest first: { el, level, text }. */
    this.lines = [];
    /** Lines that came while paused (or since the last frame), not in the DOM yet. */
    this.queue = [];
    /** Per node, what was seen last: see isRepeat. */
    this.marks = new Map();
    this.paused = false;
    this.follow = true;
    this.minLevel = Number(level.value);
    this.query = '';
    this.dropped = 0;
    this.scheduled = false;

    level.addEventListener('change', () => {
      this.minLevel = Number(level.value);
      this.refilter();
    });
    search.addEventListener('input', () => {
      this.query = search.value.trim().toLowerCase();
      this.refilter();
    });
    pause.addEventListener('click', () => this.setPaused(!this.paused));
    follow.addEventListener('click', () => this.setFollow(!this.follow));
    // Scrolling up to read stops following; scrolling back to the bottom follows again.
    list.addEventListener('scroll', () => {
      if (this.autoScrolling) return;
      const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
      if (atBottom !== this.follow) this.setFollow(atBottom);
    });
    this.updateInfo();
  }

  /** One `log` event's data: the pino object plus `node`; `raw`, its JSON text. */
  add(obj, raw) {
    if (this.isRepeat(obj, raw)) return;
    this.queue.push({ obj, raw });
    if (this.queue.length > MAX_LINES) {
      this.queue.shift();
      this.dropped++;
    }
    if (this.paused) return this.updateInfo();
    this.schedule();
  }

  /** A new stream begins: its first lines are the server's backlog, partly seen already. */
  newStream() {
    for (const m of this.marks.values()) m.now = new Map();
  }

  /**
   * Whether a line was shown already. A new stream starts with each node's last lines, which the
   * page has mostly seen; a node's lines come in time order, so per node it keeps the newest time
   * seen and, for that very millisecond, how often each line was seen (in all streams, and in this
   * one): older lines are repeats, and so is the n-th copy of a line at that time already seen n
   * times. Identical lines logged in one millisecond then still all show once.
   */
  isRepeat(obj, raw) {
    const node = typeof obj.node === 'string' ? obj.node : '';
    const time = typeof obj.time === 'string' ? obj.time : '';
    let m = this.marks.get(node);
    if (!m) this.marks.set(node, (m = { time, seen: new Map(), now: new Map() }));
    if (time < m.time) return true;
    if (time > m.time) Object.assign(m, { time, seen: new Map(), now: new Map() });
    const now = (m.now.get(raw) ?? 0) + 1;
    m.now.set(raw, now);
    if (now <= (m.seen.get(raw) ?? 0)) return true;
    m.seen.set(raw, now);
    return false;
  }

  setPaused(paused) {
    this.paused = paused;
    this.pauseEl.setAttribute('aria-pressed', String(paused));
    this.pauseEl.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) this.schedule();
    this.updateInfo();
  }

  setFollow(follow) {
    this.follow = follow;
    this.followEl.setAttribute('aria-pressed', String(follow));
    if (follow) this.scrollToEnd();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    // One DOM update per frame however many lines arrive (a busy cluster sends hundreds a second).
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  flush() {
    if (this.paused || this.queue.length === 0) return;
    const frag = document.createDocumentFragment();
    for (const { obj } of this.queue.splice(0)) {
      const line = this.render(obj);
      line.el.hidden = !this.matches(line);
      this.lines.push(line);
      frag.append(line.el);
    }
    this.list.append(frag);
    const extra = this.lines.length - MAX_LINES;
    if (extra > 0) for (const old of this.lines.splice(0, extra)) old.el.remove();
    if (this.follow) this.scrollToEnd();
    this.updateInfo();
  }

  render(obj) {
    const level = typeof obj.level === 'number' ? obj.level : 30;
    const name = levelName(level);
    const el = document.createElement('li');
    el.className = `line lvl-${name}`;
    el.dataset.level = String(level);
    const time = document.createElement('time');
    time.textContent = clock(obj.time);
    if (typeof obj.time === 'string') time.dateTime = obj.time;
    const lvl = document.createElement('span');
    lvl.className = 'lvl';
    lvl.textContent = name;
    const node = document.createElement('span');
    node.className = 'node';
    node.textContent = typeof obj.node === 'string' ? obj.node : '';
    node.title = node.textContent;
    const msg = document.createElement('span');
    msg.className = 'msg';
    msg.textContent = typeof obj.msg === 'string' ? obj.msg : '';
    let kvText = '';
    for (const [k, v] of Object.entries(obj)) {
      if (OWN.has(k) || v === undefined) continue;
      const pair = document.createElement('span');
      pair.className = 'kv';
      const key = document.createElement('span');
      key.className = 'k';
      key.textContent = k;
      const val = valueText(v);
      pair.append(key, `=${val}`);
      msg.append(' ', pair);
      kvText += ` ${k}=${val}`;
    }
    el.append(time, lvl, node, msg);
    const text = `${time.textContent} ${name} ${node.textContent} ${obj.msg ?? ''}${kvText}`.toLowerCase();
    return { el, level, text };
  }

  matches(line) {
    return line.level >= this.minLevel && (this.query === '' || line.text.includes(this.query));
  }

  refilter() {
    for (const line of this.lines) line.el.hidden = !this.matches(line);
    if (this.follow) this.scrollToEnd();
    this.updateInfo();
  }

  scrollToEnd() {
    this.autoScrolling = true;
    this.list.scrollTop = this.list.scrollHeight;
    requestAnimationFrame(() => {
      this.autoScrolling = false;
    });
  }

  updateInfo() {
    const shown = this.lines.reduce((n, l) => n + (l.el.hidden ? 0 : 1), 0);
    const parts = [`${shown} of ${this.lines.length} lines shown`];
    if (this.paused) parts.push(`paused: ${this.queue.length} new line${this.queue.length === 1 ? '' : 's'} waiting`);
    if (this.dropped) parts.push(`${this.dropped} skipped while paused (over ${MAX_LINES})`);
    this.infoEl.textContent = parts.join(' · ');
  }
}
