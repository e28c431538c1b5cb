/* global AudioContext */
// Switchboard demo: a mesh video call with chat and peer-to-peer file transfer, in one plain ES
// module that the server serves as it is (no build step). Everything about signaling — reconnects,
// resume, Perfect Negotiation, ICE restarts — is the SDK's; this file is the app around it.
import { connect, SwitchboardError } from '/sdk/switchboard.js';

const CHANNELS = ['chat', 'file'];
const CHUNK = 16 * 1024; // what every browser's SCTP stack takes in one message
const HIGH_WATER = 256 * 1024; // stop queuing on a data channel above this…
const LOW_WATER = 64 * 1024; // …and go on below this

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const roomName = params.get('room')?.trim();
const displayName = params.get('name')?.trim();
const serverUrl = params.get('server') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1`;

/** What the page knows, also for the curious in the console (and the end-to-end test): `demo.peers`… */
const demo = { sb: undefined, room: undefined, call: undefined, stream: undefined, peers: new Map(), events: [], transfers: [] };
window.demo = demo;

const log = (type, detail = {}) => demo.events.push({ type, at: Date.now(), ...detail });
const STATUS = { idle: '', connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…', closed: 'Disconnected' };
/** Set once the user leaves (or the call ends): a close is expected then, not news. */
let leaving = false;
let audioCtx;

// ---------------------------------------------------------------------------------------------
// Lobby: without ?room= and ?name=, ask for them (the URL then says it all: share it).

if (!roomName || !displayName) {
  $('lobby').hidden = false;
  $('lobby-room').value = roomName || randomRoom();
  $('lobby-name').value = displayName || window.localStorage?.getItem('switchboard.name') || '';
  ($('lobby-name').value ? $('lobby-room') : $('lobby-name')).focus();
  $('lobby-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams(params);
    next.set('room', $('lobby-room').value.trim());
    next.set('name', $('lobby-name').value.trim());
    window.localStorage?.setItem('switchboard.name', next.get('name'));
    location.search = next.toString();
  });
} else {
  void start();
}

function randomRoom() {
  const words = ['amber', 'birch', 'cedar', 'delta', 'ember', 'fjord', 'grove', 'harbor', 'iris', 'juniper', 'kelp', 'lumen'];
  const pick = () => words[Math.floor(Math.random() * words.length)];
  return `${pick()}-${pick()}-${Math.floor(100 + Math.random() * 900)}`;
}

// ---------------------------------------------------------------------------------------------
// The call

async function start() {
  document.title = `${roomName} · Switchboard`;
  $('call').hidden = false;
  $('room-title').hidden = false;
  $('room-name').textContent = roomName;
  if (window.matchMedia('(min-width: 861px)').matches) setSide(true);
  new ResizeObserver(() => layout()).observe($('grid'));
  setLocalName();
  wireControls();
  setStatus('connecting');

  demo.stream = await getMedia();
  const localVideo = $('local-video');
  localVideo.srcObject = demo.stream;
  updateLocalTile();
  if (demo.stream) watchSpeaking($('local-tile'), demo.stream);

  let sb;
  try {
    sb = await connect({ url: serverUrl });
  } catch (err) {
    setStatus('closed');
    return ended('Could not reach the signaling server', `${describe(err)} (${serverUrl})`);
  }
  demo.sb = sb;
  sb.on('state', (state) => {
    log('state', { state });
    setStatus(state);
  });
  sb.on('resumed', ({ replayed }) => {
    log('resumed', { replayed });
    toast(`Signaling reconnected${replayed ? ` · ${replayed} missed message${replayed === 1 ? '' : 's'} replayed` : ''}`, 'ok');
  });
  sb.on('session-lost', ({ code }) => {
    log('session-lost', { code });
    toast('Signaling session lost: rejoining the room…', 'warn');
  });
  sb.on('rejoined', ({ rooms }) => {
    log('rejoined', { rooms });
    toast('Back in the room', 'ok');
  });
  sb.on('closed', ({ code, reason }) => {
    log('closed', { code, reason });
    if (!leaving) ended('Disconnected', `The signaling server closed the connection (${code}${reason ? `: ${reason}` : ''}).`);
  });
  setStatus(sb.state);

  let room;
  try {
    room = await sb.join(roomName, { name: displayName, meta: { audio: hasTrack('audio'), video: hasTrack('video') } });
  } catch (err) {
    sb.close();
    return ended('Could not join the room', describe(err));
  }
  demo.room = room;
  room.on('peer-joined', ({ peer }) => {
    log('peer-joined', { peerId: peer.peerId });
    system(`${peer.name || 'Someone'} joined`);
    updateCount();
  });
  room.on('peer-left', ({ peerId, reason }) => {
    log('peer-left', { peerId, reason });
    updateCount();
  });

  const call = room.call({ stream: demo.stream, channels: CHANNELS });
  demo.call = call;
  call.on('peer', addPeer);
  call.on('track', ({ peer, streams }) => attachMedia(peer, peer.remoteStream ?? streams[0]));
  call.on('peer-left', (peerId) => removePeer(peerId));
  updateCount();
  system(room.peers.size ? `You joined ${roomName}` : `You are the first one in ${roomName}. Share the link to invite others.`);
}

/** Camera and microphone, or whichever of them there is, or nothing (then the call only receives). */
async function getMedia() {
  const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
  for (const constraints of [{ video, audio: true }, { video }, { audio: true }]) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      log('media-error', { name: err.name });
    }
  }
  toast('No camera or microphone available: you can still see, hear and chat.', 'warn');
  return undefined;
}

function hasTrack(kind) {
  return Boolean(demo.stream?.getTracks().some((t) => t.kind === kind && t.enabled));
}

// ---------------------------------------------------------------------------------------------
// Peers: one tile, one pair of data channels each

function addPeer(p) {
  const old = demo.peers.get(p.peerId);
  if (old) old.tile.remove();
  const tile = document.createElement('figure');
  tile.className = 'tile no-video';
  tile.dataset.peerId = p.peerId;
  tile.dataset.state = p.pc.connectionState;
  const video = document.createElement('video');
  video.dataset.peerId = p.peerId;
  video.autoplay = true;
  video.playsInline = true;
  const avatar = document.createElement('div');
  avatar.className = 'avatar';
  const caption = document.createElement('figcaption');
  const name = document.createElement('span');
  name.className = 'name';
  const badges = document.createElement('span');
  badges.className = 'badges';
  caption.append(name, badges);
  const conn = document.createElement('span');
  conn.className = 'conn';
  conn.textContent = 'Connecting…';
  tile.append(video, avatar, caption, conn);
  $('grid').append(tile);

  const entry = { p, tile, video, name, badges, conn, media: { audio: true, video: true }, queue: Promise.resolve(), incoming: undefined };
  demo.peers.set(p.peerId, entry);
  setPeerName(entry);
  layout();

  p.on('state', (state) => {
    tile.dataset.state = state;
    conn.textContent = { new: 'Connecting…', connecting: 'Connecting…', disconnected: 'Reconnecting…', failed: 'Connection failed, retrying…', closed: 'Closed' }[state] ?? state;
    log('peer-state', { peerId: p.peerId, state });
    if (state === 'connected') tile.classList.toggle('no-video', !entry.media.video || !video.srcObject);
  });
  if (p.remoteStream?.getTracks().length) attachMedia(p, p.remoteStream);

  const chat = p.channel('chat');
  chat.addEventListener('open', () => sendPresence(entry));
  chat.addEventListener('message', (e) => onChat(entry, e.data));
  if (chat.readyState === 'open') sendPresence(entry);
  const file = p.channel('file');
  file.binaryType = 'arraybuffer';
  file.bufferedAmountLowThreshold = LOW_WATER;
  file.addEventListener('message', (e) => onFileData(entry, e.data));
}

function attachMedia(p, stream) {
  const entry = demo.peers.get(p.peerId);
  if (!entry || !stream) return;
  if (entry.video.srcObject !== stream) entry.video.srcObject = stream;
  entry.video.play().catch(() => offerUnmute(entry));
  entry.tile.classList.toggle('no-video', !entry.media.video || !stream.getVideoTracks().length);
  if (stream.getAudioTracks().length && !entry.speaking) entry.speaking = watchSpeaking(entry.tile, stream);
}

/** Autoplay with sound needs a gesture in some browsers: play muted and offer to unmute. */
function offerUnmute(entry) {
  entry.video.muted = true;
  void entry.video.play().catch(() => {});
  if (entry.tile.querySelector('.unmute')) return;
  const b = document.createElement('button');
  b.className = 'unmute';
  b.textContent = 'Click to hear';
  b.onclick = () => {
    entry.video.muted = false;
    void entry.video.play();
    b.remove();
  };
  entry.tile.append(b);
}

function removePeer(peerId) {
  const entry = demo.peers.get(peerId);
  if (!entry) return;
  demo.peers.delete(peerId);
  entry.tile.remove();
  entry.speaking?.stop();
  if (entry.incoming) failIncoming(entry, 'left before the file was complete');
  system(`${peerName(peerId)} left`);
  layout();
  updateCount();
}

function peerName(peerId) {
  return demo.room?.peers.get(peerId)?.name || demo.peers.get(peerId)?.displayName || 'Guest';
}

function setPeerName(entry) {
  const n = peerName(entry.p.peerId);
  entry.name.textContent = n;
  entry.tile.querySelector('.avatar').dataset.initial = initial(n);
}

function initial(name) {
  return (name.trim()[0] || '?').toUpperCase();
}

/**
 * Sizes the tiles like a video-call app does: tries every column count and keeps the one that gives
 * the largest tiles that all fit the stage (16:9, or 3:4 on a portrait stage such as a phone).
 */
function layout() {
  const grid = $('grid');
  const n = grid.children.length;
  const { width: W, height: H } = grid.getBoundingClientRect();
  if (!W || !H) return;
  const gap = 12;
  const ratio = W < H ? 3 / 4 : 16 / 9;
  let best = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    best = Math.max(best, Math.min((W - gap * (cols - 1)) / cols, ((H - gap * (rows - 1)) / rows) * ratio));
  }
  grid.style.setProperty('--tile-w', `${Math.floor(best)}px`);
  grid.style.setProperty('--ratio', String(ratio));
}

function updateCount() {
  const n = (demo.room?.peers.size ?? 0) + 1;
  $('participants').textContent = `${n} ${n === 1 ? 'person' : 'people'}`;
}

// ---------------------------------------------------------------------------------------------
// Chat and presence over the 'chat' channel (JSON text messages)

function sendPresence(entry) {
  sendJson(entry.p.channel('chat'), { kind: 'presence', name: displayName, audio: hasTrack('audio'), video: hasTrack('video') });
}

function sendJson(channel, msg) {
  if (channel.readyState === 'open') channel.send(JSON.stringify(msg));
}

function onChat(entry, raw) {
  let msg;
  try {
    msg = JSON.parse(raw);
  } catch {
    return;
  }
  if (msg.kind === 'presence') {
    entry.displayName = String(msg.name ?? '');
    entry.media = { audio: msg.audio !== false, video: msg.video !== false };
    setPeerName(entry);
    entry.tile.classList.toggle('no-video', !entry.media.video || !entry.video.srcObject);
    entry.badges.replaceChildren(...(entry.media.audio ? [] : [badge('Muted', 'muted-mic')]));
  } else if (msg.kind === 'chat' && typeof msg.text === 'string') {
    addMessage({ who: peerName(entry.p.peerId), text: msg.text.slice(0, 2000), mine: false });
    log('chat', { from: entry.p.peerId, text: msg.text });
    notifyUnread();
  }
}

function badge(text, cls) {
  const b = document.createElement('span');
  b.className = `badge ${cls}`;
  b.textContent = text;
  return b;
}

function sendChat(text) {
  for (const entry of demo.peers.values()) sendJson(entry.p.channel('chat'), { kind: 'chat', text });
  addMessage({ who: 'You', text, mine: true });
}

function addMessage({ who, text, mine, node }) {
  const li = document.createElement('li');
  li.className = `msg${mine ? ' mine' : ''}`;
  const w = document.createElement('div');
  w.className = 'who';
  w.textContent = `${who} · ${new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`;
  const bubble = document.createElement('div');
  bubble.className = 'bubble';
  if (node) bubble.append(node);
  else bubble.textContent = text;
  li.append(w, bubble);
  appendToChat(li);
  return li;
}

function system(text) {
  const li = document.createElement('li');
  li.className = 'system';
  li.textContent = text;
  appendToChat(li);
}

function appendToChat(li) {
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function notifyUnread() {
  if (!$('call').classList.contains('side-open')) $('unread').hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Files over the 'file' channel: a JSON header, binary chunks of 16 KiB, a JSON trailer; one file
// at a time per peer (a queue), with the channel's bufferedAmount as backpressure.

function sendFile(file) {
  const targets = [...demo.peers.values()].filter((e) => e.p.channel('file').readyState === 'open');
  if (!targets.length) return toast('Nobody to send it to yet: wait until someone is connected.', 'warn');
  const card = fileCard(file.name, file.size, true);
  addMessage({ who: 'You', mine: true, node: card.root });
  const total = file.size * targets.length;
  const sentTo = new Map(targets.map((e) => [e.p.peerId, 0]));
  const transfer = { direction: 'out', name: file.name, size: file.size, peers: targets.length, done: 0 };
  demo.transfers.push(transfer);
  const update = () => {
    const sent = [...sentTo.values()].reduce((a, b) => a + b, 0);
    card.progress(sent, total, `to ${targets.length} ${targets.length === 1 ? 'person' : 'people'}`);
  };
  update();
  const id = Math.random().toString(36).slice(2);
  for (const entry of targets) {
    entry.queue = entry.queue
      .then(() =>
        pushFile(entry.p.channel('file'), file, id, (n) => {
          sentTo.set(entry.p.peerId, n);
          update();
        }),
      )
      .then(() => {
        transfer.done++;
        if (transfer.done === targets.length) card.finish('Sent');
      })
      .catch((err) => {
        card.fail(`Not sent to ${peerName(entry.p.peerId)}: ${err.message}`);
      });
  }
}

/** Sends one file; progress counts what has left the channel's buffer (sent, not just queued). */
async function pushFile(channel, file, id, onProgress) {
  channel.send(JSON.stringify({ kind: 'file-start', id, name: file.name, size: file.size, mime: file.type }));
  let offset = 0;
  const BLOCK = 1024 * 1024;
  const gone = () => Math.max(0, offset - channel.bufferedAmount);
  while (offset < file.size) {
    const block = new Uint8Array(await file.slice(offset, offset + BLOCK).arrayBuffer());
    for (let i = 0; i < block.byteLength; i += CHUNK) {
      if (channel.readyState !== 'open') throw new Error('the connection closed');
      if (channel.bufferedAmount > HIGH_WATER) {
        await drained(channel);
        onProgress(gone());
      }
      const chunk = block.subarray(i, i + CHUNK);
      channel.send(chunk);
      offset += chunk.byteLength;
    }
  }
  channel.send(JSON.stringify({ kind: 'file-end', id }));
  // the tail: follow the buffer down to empty
  while (channel.bufferedAmount > 0 && channel.readyState === 'open') {
    onProgress(gone());
    await new Promise((r) => window.setTimeout(r, 50));
  }
  if (channel.readyState !== 'open') throw new Error('the connection closed');
  onProgress(file.size);
}

function drained(channel) {
  return new Promise((resolve, reject) => {
    const done = () => {
      channel.removeEventListener('bufferedamountlow', done);
      channel.removeEventListener('close', closed);
      resolve();
    };
    const closed = () => {
      channel.removeEventListener('bufferedamountlow', done);
      reject(new Error('the connection closed'));
    };
    channel.addEventListener('bufferedamountlow', done);
    channel.addEventListener('close', closed, { once: true });
  });
}

function onFileData(entry, data) {
  if (typeof data === 'string') {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.kind === 'file-start') {
      if (entry.incoming) failIncoming(entry, 'interrupted');
      const size = Number(msg.size) || 0;
      const card = fileCard(String(msg.name || 'file'), size, false);
      addMessage({ who: peerName(entry.p.peerId), mine: false, node: card.root });
      notifyUnread();
      entry.incoming = { id: msg.id, name: String(msg.name || 'file'), size, mime: String(msg.mime || ''), chunks: [], received: 0, card };
      demo.transfers.push({ direction: 'in', from: entry.p.peerId, name: entry.incoming.name, size, state: 'receiving' });
      card.progress(0, size, `from ${peerName(entry.p.peerId)}`);
    } else if (msg.kind === 'file-end' && entry.incoming?.id === msg.id) {
      const inc = entry.incoming;
      entry.incoming = undefined;
      const t = demo.transfers.findLast((x) => x.direction === 'in' && x.from === entry.p.peerId);
      if (inc.received !== inc.size) {
        if (t) t.state = 'failed';
        return inc.card.fail(`Incomplete: ${formatBytes(inc.received)} of ${formatBytes(inc.size)}`);
      }
      const blob = new Blob(inc.chunks, { type: inc.mime || 'application/octet-stream' });
      if (t) t.state = 'done';
      inc.card.save(blob, inc.name);
      log('file', { from: entry.p.peerId, name: inc.name, size: inc.size });
    }
    return;
  }
  const inc = entry.incoming;
  if (!inc) return;
  inc.chunks.push(data);
  inc.received += data.byteLength;
  inc.card.progress(inc.received, inc.size, `from ${peerName(entry.p.peerId)}`);
}

function failIncoming(entry, why) {
  entry.incoming.card.fail(`Not received: ${why}`);
  entry.incoming = undefined;
}

/** A file message: icon, name, size, a progress bar, then a Save link (and a preview for images). */
function fileCard(name, size, outgoing) {
  const root = document.createElement('div');
  root.className = 'file';
  root.dataset.direction = outgoing ? 'out' : 'in';
  const row = document.createElement('div');
  row.className = 'file-row';
  const icon = document.createElement('div');
  icon.className = 'file-icon';
  icon.textContent = (name.includes('.') ? name.split('.').pop() : 'file').slice(0, 4).toUpperCase();
  const text = document.createElement('div');
  text.style.minWidth = '0';
  const n = document.createElement('div');
  n.className = 'file-name';
  n.textContent = name;
  n.title = name;
  const meta = document.createElement('div');
  meta.className = 'file-meta';
  text.append(n, meta);
  row.append(icon, text);
  const bar = document.createElement('progress');
  bar.max = Math.max(size, 1);
  bar.value = 0;
  root.append(row, bar);
  return {
    root,
    progress(done, total, who) {
      bar.max = Math.max(total, 1);
      bar.value = done;
      const pct = total ? Math.floor((done / total) * 100) : 100;
      meta.textContent = `${formatBytes(size)} · ${who} · ${pct}%`;
      root.dataset.progress = String(pct);
    },
    finish(label) {
      bar.value = bar.max;
      root.dataset.progress = '100';
      root.dataset.state = 'done';
      meta.textContent = `${formatBytes(size)} · ${label}`;
    },
    fail(why) {
      root.dataset.state = 'failed';
      meta.textContent = why;
    },
    save(blob, filename) {
      this.finish('Received');
      const url = URL.createObjectURL(blob);
      if (blob.type.startsWith('image/')) {
        const img = document.createElement('img');
        img.className = 'preview';
        img.src = url;
        img.alt = filename;
        root.insertBefore(img, bar);
      }
      const a = document.createElement('a');
      a.className = 'save';
      a.href = url;
      a.download = filename;
      a.textContent = 'Save';
      bar.replaceWith(a);
    },
  };
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// ---------------------------------------------------------------------------------------------
// Controls, status, toasts

function wireControls() {
  $('toggle-mic').onclick = () => toggleTrack('audio', $('toggle-mic'), 'microphone');
  $('toggle-cam').onclick = () => toggleTrack('video', $('toggle-cam'), 'camera');
  $('copy-link').onclick = async () => {
    const url = new URL(location.href);
    url.searchParams.delete('name');
    try {
      await navigator.clipboard.writeText(url.toString());
      toast('Invite link copied', 'ok');
    } catch {
      window.prompt('Copy this link and send it to the others:', url.toString());
    }
  };
  $('toggle-side').onclick = () => setSide(!$('call').classList.contains('side-open'));
  $('close-side').onclick = () => setSide(false);
  $('leave').onclick = () => leave();
  $('rejoin').onclick = () => location.reload();
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('chat-input').value.trim();
    if (!text) return;
    sendChat(text);
    $('chat-input').value = '';
  });
  $('file-input').addEventListener('change', () => {
    for (const f of $('file-input').files) sendFile(f);
    $('file-input').value = '';
  });
  window.addEventListener('pagehide', () => demo.sb?.close());
}

function toggleTrack(kind, button, label) {
  const tracks = demo.stream?.getTracks().filter((t) => t.kind === kind) ?? [];
  if (!tracks.length) return toast(`No ${label} available`, 'warn');
  const on = !tracks[0].enabled;
  for (const t of tracks) t.enabled = on;
  button.setAttribute('aria-pressed', String(on));
  button.title = `${on ? 'Turn off' : 'Turn on'} ${label}`;
  updateLocalTile();
  for (const entry of demo.peers.values()) sendPresence(entry);
}

function updateLocalTile() {
  const tile = $('local-tile');
  tile.classList.toggle('no-video', !hasTrack('video'));
  tile.querySelector('.badges').replaceChildren(...(hasTrack('audio') ? [] : [badge('Muted', 'muted-mic')]));
}

function setLocalName() {
  $('local-tile').querySelector('.name').textContent = `${displayName} (you)`;
  $('local-tile').querySelector('.avatar').dataset.initial = initial(displayName);
}

function setSide(open) {
  $('call').classList.toggle('side-open', open);
  $('toggle-side').setAttribute('aria-pressed', String(open));
  if (open) $('unread').hidden = true;
}

function setStatus(state) {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = STATUS[state] ?? state;
}

function toast(text, kind = '') {
  const t = document.createElement('div');
  t.className = `toast ${kind}`;
  t.textContent = text;
  $('toasts').append(t);
  window.setTimeout(() => t.remove(), 4000);
}

function describe(err) {
  if (err instanceof SwitchboardError) return `${err.message} [${err.code}]`;
  return err?.message ?? String(err);
}

async function leave() {
  leaving = true;
  demo.call?.close();
  try {
    await demo.room?.leave();
  } catch {
    // closing anyway
  }
  demo.sb?.close();
  for (const t of demo.stream?.getTracks() ?? []) t.stop();
  ended('You left the call', `Room “${roomName}”`);
}

function ended(title, detail) {
  leaving = true;
  demo.call?.close();
  for (const t of demo.stream?.getTracks() ?? []) t.stop();
  $('call').hidden = true;
  $('room-title').hidden = true;
  $('ended').hidden = false;
  $('ended-title').textContent = title;
  $('ended-detail').textContent = detail;
  setStatus('idle');
}

/** A green ring around whoever is talking (an AnalyserNode on their audio; cheap, ~10 checks/s). */
function watchSpeaking(tile, stream) {
  if (!stream.getAudioTracks().length || typeof AudioContext === 'undefined') return undefined;
  try {
    audioCtx ??= new AudioContext();
    const source = audioCtx.createMediaStreamSource(stream);
    const analyser = audioCtx.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const buf = new Uint8Array(analyser.fftSize);
    const timer = window.setInterval(() => {
      analyser.getByteTimeDomainData(buf);
      let peak = 0;
      for (const v of buf) peak = Math.max(peak, Math.abs(v - 128));
      tile.classList.toggle('speaking', peak > 18);
    }, 100);
    return {
      stop() {
        window.clearInterval(timer);
        source.disconnect();
      },
    };
  } catch {
    return undefined;
  }
}
