import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, refused, type TestClient } from '../helpers/ws.js';

/**
 * The real Flyx CLI's shape: POST /api/room, GET /api/health, WebSocket /api/room/:id, master and
 * slaves. The CLI crashes on any frame type but four, so every test here ends by checking that
 * every frame any CLI socket ever received was one of them.
 */

const CLI_TYPES = new Set(['offer', 'answer', 'icecandidate', 'slavejoined']);

let srv: TestServer;
const sockets: TestClient[] = [];
before(async () => {
  // many rooms are created over HTTP from one address: the per-address limit is tested elsewhere
  srv = await startServer({ rateLimits: { httpCreatesPerSecond: 0 } });
});
after(async () => {
  try {
    assertOnlyCliFrames(sockets);
  } finally {
    await srv.close();
  }
});

function assertOnlyCliFrames(cs: TestClient[]): void {
  for (const c of cs) {
    for (const raw of c.raw) {
      const f = JSON.parse(raw) as { type?: unknown };
      assert.ok(typeof f.type === 'string' && CLI_TYPES.has(f.type), `a CLI socket received ${raw.slice(0, 200)}`);
    }
  }
}

async function createRoom(): Promise<string> {
  const res = await fetch(srv.http('/api/room'), { method: 'POST' });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { id: string };
  assert.deepEqual(Object.keys(body), ['id']);
  assert.match(body.id, /^[A-Z0-9]{6}$/);
  return body.id;
}

async function open(room: string): Promise<TestClient> {
  const c = await connect(srv.ws(`/api/room/${room}`));
  sockets.push(c);
  return c;
}

/** Master plus n slaves; the master has consumed one slavejoined per slave. */
async function group(n: number): Promise<{ room: string; master: TestClient; slaves: TestClient[] }> {
  const room = await createRoom();
  const master = await open(room);
  const slaves: TestClient[] = [];
  for (let i = 0; i < n; i++) {
    slaves.push(await open(room));
    assert.deepEqual(await master.next(), { type: 'slavejoined' });
  }
  return { room, master, slaves };
}

/**
 * Proves nothing else reached `slave` or `master`: slave → master → slave round trip of valid
 * frames, which the server handles in order on each socket.
 */
async function roundTrip(master: TestClient, slave: TestClient, tag: string): Promise<void> {
  slave.send({ type: 'answer', sdp: `ping-${tag}` });
  assert.deepEqual(await master.next(), { type: 'answer', sdp: `ping-${tag}` });
  master.send({ type: 'offer', sdp: `pong-${tag}` });
  assert.deepEqual(await slave.next(), { type: 'offer', sdp: `pong-${tag}` });
}

interface CliStatus {
  master: string | null;
  members: { id: string; role: string }[];
}

async function roomStatus(room: string): Promise<CliStatus> {
  return (await (await fetch(srv.http(`/api/room/${room}/status`))).json()) as CliStatus;
}

/**
 * The CLI protocol announces no departures, so a test that needs one to have been processed asks
 * the status route until it shows (each ask is a full HTTP round trip; bounded).
 */
async function until(room: string, ok: (s: CliStatus) => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) if (ok(await roomStatus(room))) return;
  assert.fail(`room ${room} never reached the expected state: ${JSON.stringify(await roomStatus(room))}`);
}

async function closeAll(...cs: TestClient[]): Promise<void> {
  await Promise.all(cs.map((c) => c.close()));
}

// ---- HTTP --------------------------------------------------------------------------------------

test('POST /api/room answers {"id":"<6 alphanumeric>"}; a body is ignored', async () => {
  await createRoom();
  const res = await fetch(srv.http('/api/room'), { method: 'POST', body: '{garbage' });
  assert.equal(res.status, 200);
  assert.match(((await res.json()) as { id: string }).id, /^[A-Z0-9]{6}$/);
});

test('GET /api/health answers Ok as text', async () => {
  const res = await fetch(srv.http('/api/health'));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(await res.text(), 'Ok');
});

test('GET /api/room/:id/status reports master and slaves; unknown rooms are 404', async () => {
  const { room, master, slaves } = await group(1);
  const res = await fetch(srv.http(`/api/room/${room}/status`));
  assert.equal(res.status, 200);
  const st = (await res.json()) as { id: string; master: string; members: { id: string; role: string }[]; created_at: string };
  assert.equal(st.id, room);
  assert.equal(st.created_at, new Date(srv.clock.now()).toISOString());
  assert.deepEqual(st.members.map((m) => m.role), ['master', 'slave']);
  assert.equal(st.master, st.members[0]!.id);
  for (const id of ['QQQQQ9', 'bad']) {
    const r = await fetch(srv.http(`/api/room/${id}/status`));
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: 'Could not find the room' });
  }
  await closeAll(master, ...slaves);
});

// ---- handshake ---------------------------------------------------------------------------------

test('the handshake refuses unknown and malformed ids with {"error":"Could not find the room"}', async () => {
  for (const path of ['/api/room/QQQQQ9', '/api/room/abc', '/api/room/ABCDEFG', '/api/room/AB%20123']) {
    const r = await refused(srv.ws(path));
    assert.equal(r.status, 404, path);
    assert.deepEqual(JSON.parse(r.body), { error: 'Could not find the room' }, path);
  }
});

test('ids are case-insensitive at the handshake', async () => {
  const { room, master } = await group(0);
  const slave = await open(room.toLowerCase());
  assert.deepEqual(await master.next(), { type: 'slavejoined' });
  await roundTrip(master, slave, 'case');
  await closeAll(master, slave);
});

// ---- master and slaves -------------------------------------------------------------------------

test('the master gets exactly {"type":"slavejoined"} per slave; nobody gets a welcome', async () => {
  const { master, slaves } = await group(2);
  await roundTrip(master, slaves[0]!, 'a');
  assert.deepEqual(await slaves[1]!.next(), { type: 'offer', sdp: 'pong-a' });
  assert.deepEqual(slaves[1]!.take(), []);
  assert.deepEqual(master.take(), []);
  await closeAll(master, ...slaves);
});

test('offer, answer and icecandidate: slave → master, master → every slave, extra fields stripped', async () => {
  const { master, slaves } = await group(2);
  const [s1, s2] = slaves as [TestClient, TestClient];
  const cand = JSON.stringify({ candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 });

  master.send({ type: 'offer', sdp: 'v=0 offer', to: 'x', extra: 1 });
  assert.deepEqual(await s1.next(), { type: 'offer', sdp: 'v=0 offer' });
  assert.deepEqual(await s2.next(), { type: 'offer', sdp: 'v=0 offer' });
  master.send({ type: 'icecandidate', candidate: cand });
  assert.deepEqual(await s1.next(), { type: 'icecandidate', candidate: cand });
  assert.deepEqual(await s2.next(), { type: 'icecandidate', candidate: cand });

  s1.send({ type: 'answer', sdp: 'v=0 answer' });
  assert.deepEqual(await master.next(), { type: 'answer', sdp: 'v=0 answer' });
  s1.send({ type: 'icecandidate', candidate: cand, sdpMid: '0' });
  assert.deepEqual(await master.next(), { type: 'icecandidate', candidate: cand });
  // A slave's frames never reach the other slave.
  await roundTrip(master, s2, 'iso');
  assert.deepEqual(await s1.next(), { type: 'offer', sdp: 'pong-iso' });
  assert.deepEqual(s1.take(), []);
  assert.deepEqual(s2.take(), []);
  await closeAll(master, ...slaves);
});

test('garbage of every kind is dropped silently: no frame of another type ever reaches the CLI', async () => {
  const { master, slaves } = await group(1);
  const slave = slaves[0]!;
  const garbage: (string | Buffer)[] = [
    '{not json',
    '[1,2,3]',
    '42',
    'null',
    '"offer"',
    '{}',
    '{"type":7}',
    '{"type":"error","message":"x"}',
    '{"type":"ping"}',
    '{"type":"slavejoined"}',
    '{"type":"join","data":{}}',
    '{"type":"offer"}',
    '{"type":"offer","sdp":""}',
    '{"type":"offer","sdp":{"type":"offer","sdp":"v=0"}}',
    '{"type":"answer","sdp":5}',
    '{"type":"icecandidate"}',
    '{"type":"icecandidate","candidate":{"candidate":"c"}}',
    '{"type":"ice_candidate","candidate":"{}"}',
    JSON.stringify({ type: 'offer', sdp: 'x'.repeat(70_000) }),
  ];
  for (const c of [master, slave]) {
    for (const g of garbage) c.send(g);
    c.ws.send(Buffer.from([0xde, 0xad]), { binary: true });
  }
  await roundTrip(master, slave, 'after-garbage');
  assert.deepEqual(master.take(), []);
  assert.deepEqual(slave.take(), []);
  assert.equal(master.closeCode, undefined);
  assert.equal(slave.closeCode, undefined);
  assertOnlyCliFrames([master, slave]);
  await closeAll(master, slave);
});

test('dropped input is counted in metrics, and only the four frame types are ever sent', async () => {
  const { master, slaves } = await group(1);
  master.send('{oops');
  master.send({ type: 'nope' });
  await roundTrip(master, slaves[0]!, 'metrics');
  const text = await (await fetch(srv.http('/metrics'))).text();
  assert.match(text, /switchboard_errors_total\{dialect="flyx-cli",code="invalid-json"\} [1-9]/);
  assert.match(text, /switchboard_errors_total\{dialect="flyx-cli",code="unknown-type"\} [1-9]/);
  const sentTypes = [...text.matchAll(/switchboard_frames_out_total\{dialect="flyx-cli",type="([^"]+)"\}/g)].map((m) => m[1]!);
  assert.ok(sentTypes.length > 0);
  for (const t of sentTypes) assert.ok(CLI_TYPES.has(t), `sent a ${t} frame to a CLI`);
  await closeAll(master, ...slaves);
});

test('a slave with no master: its frames are dropped; a master arriving later hears of it', async () => {
  const { room, master, slaves } = await group(1);
  const slave = slaves[0]!;
  await master.close();
  await until(room, (st) => st.master === null);
  // No peer-left frame exists in this protocol: the slave hears nothing.
  slave.send({ type: 'answer', sdp: 'into-the-void' });
  const master2 = await open(room);
  assert.deepEqual(await master2.next(), { type: 'slavejoined' });
  await roundTrip(master2, slave, 'handover');
  assert.deepEqual(slave.take(), []);
  assert.deepEqual(master2.take(), []);
  const slave2 = await open(room);
  assert.deepEqual(await master2.next(), { type: 'slavejoined' });
  await closeAll(master2, slave, slave2);
});

test('a slave leaving is not announced; the room forgets it', async () => {
  const { room, master, slaves } = await group(2);
  await slaves[0]!.close();
  await until(room, (st) => st.members.length === 2);
  await roundTrip(master, slaves[1]!, 'left');
  assert.deepEqual(master.take(), []);
  assert.deepEqual((await roomStatus(room)).members.map((m) => m.role), ['master', 'slave']);
  await closeAll(master, slaves[1]!);
});
