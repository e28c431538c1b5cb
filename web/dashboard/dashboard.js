// Switchboard's live dashboard: the cluster's nodes, totals and rates, rooms with their members,
// and the server log, from one event stream (GET /admin/v1/events); operator actions (disconnect
// a peer, close a room) through the admin API, each behind an in-page confirmation. Plain ES
// modules served as they are; nothing is loaded from elsewhere (docs/operations.md, "Dashboard").
import { AdminClient, ApiError, Forbidden, runEventStream } from '/dashboard/api.js';
import { Sparkline } from '/dashboard/chart.js';
import { LogPanel } from '/dashboard/log.js';
import { $, fmtAgo, fmtBytes, fmtCount, fmtDateTime, fmtDuration, fmtRate, h, setText, syncChildren } from '/dashboard/util.js';

/** What the page knows, for the curious in the console (and the browser test). */
const dashboard = { snapshot: undefined, stream: 'connecting', snapshots: 0 };
window.dashboard = dashboard;

// ---------------------------------------------------------------------------------------------
// Access: the token form and the banner for refusals

const client = new AdminClient({ askToken });
let tokenWaiter;

/** Shows the token form; resolves with the token once it is submitted (never with nothing). */
function askToken(message) {
  const dialog = $('login');
  $('login-error').textContent = message && !/credentials required/.test(message) ? message : '';
  $('token-input').value = '';
  if (!dialog.open) dialog.showModal();
  $('token-input').focus();
  return new Promise((resolve) => {
    tokenWaiter = resolve;
  });
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  const done = tokenWaiter;
  tokenWaiter = undefined;
  $('login').close();
  hideBanner();
  done?.(token);
});
// Closed without a token (Escape): say what is missing, with a way back to the form.
$('login').addEventListener('close', () => {
  if (tokenWaiter) showBanner('This server needs its admin token before it shows anything.', true);
});
$('banner-token').addEventListener('click', () => {
  if (tokenWaiter) {
    $('login').showModal();
    $('token-input').focus();
  } else {
    void client.relogin().then(() => stream.restart());
  }
});

function showBanner(text, offerToken) {
  setText($('banner-text'), text);
  $('banner-token').hidden = !offerToken;
  $('banner').hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
}

// ---------------------------------------------------------------------------------------------
// The live stream

const STATUS = {
  connecting: () => 'Connecting…',
  live: () => 'Live',
  reconnecting: (d) => (d.inMs ? `Reconnecting in ${Math.max(1, Math.round(d.inMs / 1000))} s…` : 'Reconnecting…'),
  auth: () => 'Waiting for the admin token',
  forbidden: () => 'No access',
  error: (d) => `Offline: ${d.message}`,
};

/** The backplane's health comes from GET /ready (public); the snapshot says which nodes are up. */
let backplane = 'unknown';
async function refreshReady() {
  try {
    const res = await fetch('/ready', { cache: 'no-store' });
    const body = await res.json();
    backplane = typeof body.backplane === 'string' ? body.backplane : 'unknown';
  } catch {
    backplane = 'unreachable';
  }
  renderCluster();
}
setInterval(() => {
  if (dashboard.stream === 'live') void refreshReady();
}, 10_000);

// ---------------------------------------------------------------------------------------------
// Snapshots: header, totals and charts, nodes, rooms

const charts = {
  connections: new Sparkline($('chart-connections'), { label: 'Connections', format: fmtCount }),
  messages: new Sparkline($('chart-messages'), { label: 'Messages per second', format: fmtRate }),
  joins: new Sparkline($('chart-joins'), { label: 'Joins per second', format: fmtRate }),
};

function onSnapshot(s) {
  const first = Array.isArray(s.history);
  dashboard.snapshot = s;
  dashboard.snapshots++;
  if (first) {
    logs.newStream();
    charts.connections.seed(s.history.map((p) => ({ ts: p.ts, v: p.connections })));
    charts.messages.seed(s.history.map((p) => ({ ts: p.ts, v: p.messagesPerSecond })));
    charts.joins.seed(s.history.map((p) => ({ ts: p.ts, v: p.joinsPerSecond })));
  }
  const totals = s.totals ?? {};
  const rates = s.rates ?? {};
  charts.connections.push(s.ts, totals.connections ?? 0);
  charts.messages.push(s.ts, rates.messagesPerSecond ?? 0);
  charts.joins.push(s.ts, rates.joinsPerSecond ?? 0);
  setText($('v-connections'), fmtCount(totals.connections));
  setText($('v-messages'), fmtRate(rates.messagesPerSecond));
  setText($('v-joins'), fmtRate(rates.joinsPerSecond));
  setText($('v-rooms'), fmtCount(totals.rooms));
  setText($('v-peers'), fmtCount(totals.peers));
  renderDialects(totals.connectionsByDialect ?? {}, totals.connections ?? 0);
  renderNodes(s.nodes ?? [], s.ts);
  renderCluster();
  renderRooms(s.rooms ?? [], s.ts, s.truncated === true ? totals.rooms : undefined);
}

function renderCluster() {
  const s = dashboard.snapshot;
  const el = $('cluster');
  if (!s) return;
  const nodes = s.nodes ?? [];
  const self = nodes.find((n) => n.self);
  if (self?.version) {
    $('version').hidden = false;
    setText($('version'), `v${self.version}`);
  }
  const ready = nodes.filter((n) => n.state === 'ready').length;
  const bp = backplane === 'ok' ? 'backplane ok' : backplane === 'down' ? 'backplane down' : 'backplane ?';
  setText(el, `${nodes.length} node${nodes.length === 1 ? '' : 's'} up · ${bp}`);
  el.dataset.health = backplane === 'down' || backplane === 'unreachable' ? 'bad' : ready < nodes.length ? 'warn' : 'ok';
  el.title = `${ready} of ${nodes.length} nodes ready; shared store (backplane): ${backplane}`;
}

const dialectRows = new Map();
function renderDialects(byDialect, total) {
  const entries = Object.entries(byDialect).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const list = $('dialects');
  syncChildren(
    list,
    entries,
    ([d]) => d,
    ([d]) => h('li', { dataset: { dialect: d } }, h('span', { class: 'name', text: d }), h('span', { class: 'bar' }, h('i')), h('span', { class: 'n' })),
    (li, [, n]) => {
      setText(li.querySelector('.n'), fmtCount(n));
      li.querySelector('.bar i').style.width = `${total ? Math.max(2, (n / total) * 100) : 0}%`;
    },
    dialectRows,
  );
  if (entries.length === 0 && !list.querySelector('.none')) list.append(h('li', { class: 'none muted', text: 'No connections' }));
  else if (entries.length) list.querySelector('.none')?.remove();
}

const nodeRows = new Map();
function renderNodes(nodes, now) {
  setText($('nodes-count'), `${nodes.length}`);
  syncChildren(
    $('nodes'),
    nodes,
    (n) => n.id,
    (n) =>
      h(
        'tr',
        { dataset: { node: n.id } },
        h('th', { scope: 'row' }, h('span', { class: 'node-id' }, h('span', { class: 'mono id' }), n.self ? h('span', { class: 'tag', text: 'this node', title: 'The node serving this page' }) : null)),
        h('td', {}, h('span', { class: 'state' })),
        h('td', { class: 'num conn' }),
        h('td', { class: 'per-dialect' }),
        h('td', { class: 'num sessions' }),
        h('td', { class: 'num rooms' }),
        h('td', { class: 'num uptime' }),
        h('td', { class: 'num mem' }),
      ),
    (tr, n) => {
      const id = tr.querySelector('.id');
      setText(id, n.id);
      id.title = [n.hostname && `host ${n.hostname}`, n.pid && `pid ${n.pid}`, n.version && `v${n.version}`].filter(Boolean).join(' · ');
      const state = tr.querySelector('.state');
      // A status older than a few seconds: the node's presence lingers but it stopped reporting.
      const stale = typeof n.ts === 'number' && typeof now === 'number' && now - n.ts > 15_000;
      setText(state, stale ? `${n.state} (stale)` : n.state);
      state.dataset.state = stale ? 'stale' : n.state;
      setText(tr.querySelector('.conn'), fmtCount(n.connections));
      const per = Object.entries(n.connectionsByDialect ?? {}).filter(([, c]) => c > 0);
      setText(tr.querySelector('.per-dialect'), per.length ? per.map(([d, c]) => `${d} ${c}`).join(' · ') : '–');
      setText(tr.querySelector('.sessions'), fmtCount(n.sessions));
      setText(tr.querySelector('.rooms'), fmtCount(n.rooms));
      setText(tr.querySelector('.uptime'), fmtDuration(n.uptimeMs));
      tr.querySelector('.uptime').title = n.startedAt ? `started ${fmtDateTime(n.startedAt)}` : '';
      setText(tr.querySelector('.mem'), fmtBytes(n.rssBytes));
    },
    nodeRows,
  );
}

// ---------------------------------------------------------------------------------------------
// Rooms and members

const roomCards = new Map();
let roomQuery = '';

function roomKey(r) {
  return `${r.dialect}/${r.room}`;
}

function createRoom(r) {
  const card = h('article', { class: 'room', dataset: { dialect: r.dialect, room: r.room, testid: 'room' } });
  const close = h('button', { type: 'button', class: 'danger small', 'data-testid': 'close-room', text: 'Close room', 'aria-label': `Close room ${roomKey(r)}` });
  close.addEventListener('click', () => closeRoom(r.dialect, r.room, close));
  card.append(
    h(
      'header',
      { class: 'room-head' },
      h('span', { class: 'dialect', text: r.dialect }),
      h('h3', { class: 'room-name', text: r.room, title: r.room }),
      h('span', { class: 'room-meta' }),
      close,
    ),
    h(
      'table',
      { class: 'members grid-table' },
      h('thead', {}, h('tr', {}, ...['Peer', 'Name', 'Identity', 'Node', 'Since', ''].map((t) => h('th', { scope: 'col', class: t.toLowerCase() || 'act', text: t, 'aria-label': t === '' ? 'Actions' : undefined })))),
      h('tbody'),
    ),
    h('p', { class: 'room-empty muted', text: 'No members: the room is removed after its empty-room grace.' }),
  );
  card.memberRows = new Map();
  return card;
}

function createMember(card, m) {
  const btn = h('button', { type: 'button', class: 'ghost small', 'data-testid': 'disconnect', dataset: { peerId: m.peerId }, text: 'Disconnect', 'aria-label': `Disconnect ${m.name || m.peerId}` });
  btn.addEventListener('click', () => disconnectPeer(m.peerId, m.name, card.dataset.room, btn));
  return h(
    'tr',
    { dataset: { peerId: m.peerId, testid: 'member' } },
    h('td', { class: 'mono peer', text: m.peerId, title: m.peerId }),
    h('td', { class: 'name' }),
    h('td', { class: 'identity' }),
    h('td', { class: 'mono node' }),
    h('td', { class: 'since' }),
    h('td', { class: 'act' }, btn),
  );
}

function updateRoom(card, r, now) {
  const members = [...(r.members ?? [])].sort((a, b) => a.joinedAt - b.joinedAt || (a.peerId < b.peerId ? -1 : 1));
  const nodes = [...new Set(members.map((m) => m.node))];
  setText(card.querySelector('.room-meta'), `${members.length} member${members.length === 1 ? '' : 's'}${nodes.length > 1 ? ` on ${nodes.length} nodes` : ''} · created ${fmtAgo(r.createdAt, now)}`);
  card.dataset.members = String(members.length);
  // Identities exist only with auth on: without any, the column would be empty.
  card.classList.toggle('no-identity', !members.some((m) => m.identity));
  card.querySelector('.members').hidden = members.length === 0;
  card.querySelector('.room-empty').hidden = members.length > 0;
  syncChildren(
    card.querySelector('tbody'),
    members,
    (m) => m.peerId,
    (m) => createMember(card, m),
    (tr, m) => {
      for (const [cls, v] of [['.name', m.name], ['.identity', m.identity], ['.node', m.node]]) {
        const td = tr.querySelector(cls);
        setText(td, v ?? '');
        td.title = v ?? ''; // the cell may be cut short
      }
      const since = tr.querySelector('.since');
      setText(since, fmtAgo(m.joinedAt, now));
      since.title = fmtDateTime(m.joinedAt);
    },
    card.memberRows,
  );
  card.searchText = [r.dialect, r.room, ...members.flatMap((m) => [m.peerId, m.name, m.identity, m.node])].filter(Boolean).join('\n').toLowerCase();
}

function renderRooms(rooms, now, totalIfTruncated) {
  syncChildren($('rooms'), rooms, roomKey, createRoom, (card, r) => updateRoom(card, r, now), roomCards);
  dashboard.roomsTotal = totalIfTruncated;
  applyRoomFilter();
}

function applyRoomFilter() {
  let shown = 0;
  for (const card of roomCards.values()) {
    const ok = roomQuery === '' || card.searchText.includes(roomQuery);
    card.hidden = !ok;
    if (ok) shown++;
  }
  const total = roomCards.size;
  const more = dashboard.roomsTotal ? ` (the first ${total} of ${fmtCount(dashboard.roomsTotal)})` : '';
  setText($('rooms-count'), roomQuery ? `${shown} of ${total}${more}` : `${total}${more}`);
  const empty = $('rooms-empty');
  empty.hidden = shown > 0;
  setText(empty, total === 0 ? (dashboard.snapshot ? 'No rooms right now.' : 'Waiting for the first snapshot…') : `No room matches “${$('room-filter').value.trim()}”.`);
}

$('room-filter').addEventListener('input', () => {
  roomQuery = $('room-filter').value.trim().toLowerCase();
  applyRoomFilter();
});

// ---------------------------------------------------------------------------------------------
// Actions, each behind a confirmation

/** Opens the confirmation dialog; resolves true when the operator confirms. */
function confirmAction({ title, text, ok }) {
  const dialog = $('confirm');
  setText($('confirm-title'), title);
  setText($('confirm-text'), text);
  setText($('confirm-ok'), ok);
  dialog.returnValue = '';
  dialog.showModal();
  // The safe choice has the focus: Enter on a stray keypress cancels.
  dialog.querySelector('[value="cancel"]').focus();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}

async function disconnectPeer(peerId, name, room, btn) {
  const who = name ? `${name} (${peerId})` : peerId;
  if (!(await confirmAction({ title: 'Disconnect this peer?', text: `${who} in “${room}” is disconnected (close code 4003, kicked) and its session ended: it cannot resume.`, ok: 'Disconnect' }))) return;
  await act(btn, () => client.request('DELETE', `/admin/v1/peers/${encodeURIComponent(peerId)}`), (r) => `Disconnected ${who} on ${r.node}`);
}

async function closeRoom(dialect, room, btn) {
  const card = roomCards.get(`${dialect}/${room}`);
  const n = Number(card?.dataset.members ?? 0);
  if (!(await confirmAction({ title: 'Close this room?', text: `All ${n} member${n === 1 ? '' : 's'} of ${dialect} room “${room}” are removed (they hear that they were kicked).`, ok: 'Close room' }))) return;
  await act(btn, () => client.request('DELETE', `/admin/v1/rooms/${encodeURIComponent(dialect)}/${encodeURIComponent(room)}`), (r) => `Closed “${room}”: ${r.removed} removed`);
}

async function act(btn, call, done) {
  btn.disabled = true;
  try {
    toast(done(await call()), 'ok');
  } catch (err) {
    const why = err instanceof Forbidden ? `refused: ${err.message}` : err instanceof ApiError ? err.message : 'the server is unreachable';
    toast(`Failed: ${why}`, 'bad');
  } finally {
    btn.disabled = false;
  }
}

function toast(text, kind = '') {
  const el = h('div', { class: `toast ${kind}`, role: kind === 'bad' ? 'alert' : 'status', text });
  $('toasts').append(el);
  setTimeout(() => el.remove(), kind === 'bad' ? 8000 : 4000);
}

// ---------------------------------------------------------------------------------------------
// The log panel, and keyboard shortcuts

const logs = new LogPanel({ list: $('log'), level: $('log-level'), search: $('log-search'), pause: $('log-pause'), follow: $('log-follow'), info: $('log-info') });
dashboard.logs = logs;

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
  const typing = e.target instanceof HTMLElement && (e.target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName));
  if (e.key === '/' && !typing) {
    e.preventDefault();
    $('log-search').focus();
  } else if (e.key === 'Escape' && typing && e.target.type === 'search' && e.target.value) {
    e.target.value = '';
    e.target.dispatchEvent(new Event('input'));
  }
});

// ---------------------------------------------------------------------------------------------
// Start

applyRoomFilter();
const stream = runEventStream(client, {
  onState(state, detail = {}) {
    dashboard.stream = state;
    const el = $('stream-status');
    el.dataset.state = state;
    setText(el, STATUS[state](detail));
    if (state === 'live') {
      hideBanner();
      void refreshReady();
    } else if (state === 'forbidden') showBanner(`The server refused access: ${detail.message}`, true);
    else if (state === 'error') showBanner(`The live feed is down (${detail.message}); retrying.`, false);
  },
  onEvent(name, data) {
    if (name === 'snapshot') onSnapshot(data);
    else if (name === 'log') logs.add(data, JSON.stringify(data));
  },
});
