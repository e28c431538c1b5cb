import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { connect, refused, type Frame, type TestClient } from '../helpers/ws.js';

/** The README shape: POST /room, GET /room/:id, WebSocket /ws/:room, frames {type, data}. */

let srv: TestServer;
before(async () => {
  // many rooms are created over HTTP from one address: the per-address limit is tested elsewhere
  srv = await startServer({ rateLimits: { httpCreatesPerSecond: 0 } });
});
after(() => srv.close());

interface Member {
  c: TestClient;
  id: string;
  role: string;
}

function data(f: Frame): Record<string, unknown> {
  return f.data as Record<string, unknown>;
}

async function post(body?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(srv.http('/room'), { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function createRoom(options?: unknown): Promise<string> {
  const r = await post(options === undefined ? undefined : JSON.stringify(options));
  assert.equal(r.status, 201, JSON.stringify(r.json));
  assert.match(r.json.id as string, /^[A-Z0-9]{6}$/);
  return r.json.id as string;
}

async function status(id: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(srv.http(`/room/${id}`));
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function enter(room: string): Promise<Member> {
  const c = await connect(srv.ws(`/ws/${room}`));
  const j = await c.next('join');
  return { c, id: data(j).client_id as string, role: data(j).role as string };
}

/** A round trip the server answers in order: every frame it sent before is now queued. */
async function sync(c: TestClient): Promise<void> {
  c.send({ type: 'sync-probe' });
  const e = await c.next('error');
  assert.equal(data(e).message, 'Unknown message type: sync-probe');
}

async function quiet(...cs: TestClient[]): Promise<void> {
  for (const c of cs) {
    await sync(c);
    assert.deepEqual(c.take(), []);
  }
}

async function closeAll(...ms: Member[]): Promise<void> {
  await Promise.all(ms.map((m) => m.c.close()));
}

/** Sender plus two receivers; the sender has consumed both receivers' joins. */
async function trio(): Promise<{ room: string; s: Member; r1: Member; r2: Member }> {
  const room = await createRoom();
  const s = await enter(room);
  const r1 = await enter(room);
  assert.deepEqual(data(await s.c.next('join')), { client_id: r1.id, role: 'receiver' });
  const r2 = await enter(room);
  assert.deepEqual(data(await s.c.next('join')), { client_id: r2.id, role: 'receiver' });
  return { room, s, r1, r2 };
}

// ---- HTTP --------------------------------------------------------------------------------------

test('POST /room creates a room with a 6-character id; GET /room/:id reports it', async () => {
  const id = await createRoom();
  const st = await status(id);
  assert.equal(st.status, 200);
  assert.equal(st.json.id, id);
  assert.equal(st.json.created_at, new Date(srv.clock.now()).toISOString());
  assert.equal(st.json.last_activity, st.json.created_at);
  assert.deepEqual(st.json.options, { max_clients: 100, timeout: 3600 });
  assert.equal(st.json.sender, null);
  assert.deepEqual(st.json.clients, []);
});

test('GET /room/:id lists members with ids and roles, folds case, and tells unknown from malformed', async () => {
  const room = await createRoom();
  const s = await enter(room);
  const r = await enter(room);
  const st = await status(room.toLowerCase());
  assert.equal(st.status, 200);
  assert.equal(st.json.sender, s.id);
  assert.deepEqual(st.json.clients, [
    { client_id: s.id, role: 'sender' },
    { client_id: r.id, role: 'receiver' },
  ]);
  const unknown = await status(room === 'ZZZZZZ' ? 'YYYYYY' : 'ZZZZZZ');
  assert.deepEqual(unknown, { status: 404, json: { error: 'No room found' } });
  for (const bad of ['ABC12', 'ABC1234', 'AB-123']) {
    const b = await status(bad);
    assert.equal(b.status, 400);
    assert.match(b.json.error as string, /room ids are 6 letters or digits/);
  }
  await closeAll(s, r);
});

test('POST /room takes max_clients and timeout options', async () => {
  const id = await createRoom({ max_clients: 3, timeout: 60 });
  assert.deepEqual((await status(id)).json.options, { max_clients: 3, timeout: 60 });
  const empty = await post('');
  assert.equal(empty.status, 201);
});

test('POST /room refuses bad bodies with a clear 400 (or 413)', async () => {
  const cases: [string, RegExp][] = [
    ['{"max_clients":', /not valid JSON/],
    ['[1,2]', /must be a JSON object/],
    ['"hi"', /must be a JSON object/],
    ['null', /must be a JSON object/],
    ['{"capacity":3}', /Unknown room option "capacity" \(known: max_clients, timeout\)/],
    ['{"max_clients":1}', /max_clients must be an integer from 2 to 100/],
    ['{"max_clients":101}', /max_clients must be an integer from 2 to 100/],
    ['{"max_clients":"3"}', /max_clients must be an integer/],
    ['{"max_clients":2.5}', /max_clients must be an integer/],
    ['{"timeout":0}', /timeout must be a whole number of seconds from 1 to 86400/],
    ['{"timeout":90000}', /timeout must be a whole number of seconds/],
    ['{"timeout":1.5}', /timeout must be a whole number of seconds/],
    ['{"timeout":"60"}', /timeout must be a whole number of seconds/],
  ];
  for (const [body, want] of cases) {
    const r = await post(body);
    assert.equal(r.status, 400, body);
    assert.match(r.json.error as string, want, body);
  }
  const big = await post(JSON.stringify({ timeout: 60, pad: 'x'.repeat(20_000) }));
  assert.equal(big.status, 413);
  assert.match(big.json.error as string, /larger than 16384 bytes/);
});

// ---- handshake ---------------------------------------------------------------------------------

test('the handshake refuses unknown (406 No room found), malformed (400) and full (409) rooms', async () => {
  const unknown = await refused(srv.ws('/ws/QQQQQ9'));
  assert.equal(unknown.status, 406);
  assert.match(unknown.body, /No room found/);
  for (const bad of ['/ws/abc', '/ws/ABCDEFG', '/ws/AB%2F123', '/ws/AB_123']) {
    const r = await refused(srv.ws(bad));
    assert.equal(r.status, 400, bad);
    assert.match(r.body, /Invalid room id/, bad);
  }
  const room = await createRoom({ max_clients: 2 });
  const s = await enter(room);
  const r = await enter(room);
  const full = await refused(srv.ws(`/ws/${room}`));
  assert.equal(full.status, 409);
  assert.match(full.body, /Room is full/);
  await closeAll(s, r);
});

// ---- roles and relays --------------------------------------------------------------------------

test('the first client is the sender, later ones receivers; the sender hears each receiver join', async () => {
  const { s, r1, r2 } = await trio();
  assert.equal(s.role, 'sender');
  assert.equal(r1.role, 'receiver');
  assert.equal(r2.role, 'receiver');
  assert.equal(new Set([s.id, r1.id, r2.id]).size, 3);
  // Receivers never hear of each other.
  await quiet(s.c, r1.c, r2.c);
  await closeAll(s, r1, r2);
});

test('receivers signal the sender; the sender signals one receiver (data.to) or all of them', async () => {
  const { s, r1, r2 } = await trio();
  r1.c.send({ type: 'offer', data: { sdp: 'r1-offer' } });
  assert.deepEqual(await s.c.next('offer'), { type: 'offer', data: { sdp: 'r1-offer', client_id: r1.id } });

  s.c.send({ type: 'answer', data: { to: r1.id, sdp: { type: 'answer', sdp: 'v=0' } } });
  assert.deepEqual(await r1.c.next('answer'), { type: 'answer', data: { to: r1.id, sdp: { type: 'answer', sdp: 'v=0' }, client_id: s.id } });

  const cand = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0', sdpMLineIndex: 0 };
  s.c.send({ type: 'ice_candidate', data: { candidate: cand } });
  assert.deepEqual(await r1.c.next('ice_candidate'), { type: 'ice_candidate', data: { candidate: cand, client_id: s.id } });
  assert.deepEqual(await r2.c.next('ice_candidate'), { type: 'ice_candidate', data: { candidate: cand, client_id: s.id } });

  r2.c.send({ type: 'ice_candidate', data: { candidate: 'a=candidate-string' } });
  assert.deepEqual(await s.c.next('ice_candidate'), { type: 'ice_candidate', data: { candidate: 'a=candidate-string', client_id: r2.id } });
  // The targeted answer reached r1 only; nothing crossed between receivers.
  await quiet(s.c, r1.c, r2.c);
  await closeAll(s, r1, r2);
});

test('data.client_id is set by the server: a forged one is overwritten', async () => {
  const { s, r1, r2 } = await trio();
  r1.c.send({ type: 'offer', data: { client_id: r2.id, sdp: 'x' } });
  assert.equal(data(await s.c.next('offer')).client_id, r1.id);
  s.c.send({ type: 'offer', data: { client_id: 'server', to: r2.id, sdp: 'y' } });
  assert.equal(data(await r2.c.next('offer')).client_id, s.id);
  await quiet(s.c, r1.c, r2.c);
  await closeAll(s, r1, r2);
});

test('a receiver cannot reach another receiver, not even with data.to', async () => {
  const { s, r1, r2 } = await trio();
  r1.c.send({ type: 'offer', data: { to: r2.id, sdp: 'sneaky' } });
  assert.deepEqual(await r1.c.next('error'), { type: 'error', data: { message: 'Receivers can only signal the sender' } });
  // Addressing the sender explicitly is fine.
  r1.c.send({ type: 'answer', data: { to: s.id, sdp: 'ok' } });
  assert.equal(data(await s.c.next('answer')).client_id, r1.id);
  await quiet(s.c, r1.c, r2.c);
  await closeAll(s, r1, r2);
});

test('a sender cannot reach anyone outside its room', async () => {
  const a = await trio();
  const b = await trio();
  a.s.c.send({ type: 'offer', data: { to: b.r1.id, sdp: 'cross-room' } });
  assert.deepEqual(await a.s.c.next('error'), { type: 'error', data: { message: `No receiver ${b.r1.id} in this room` } });
  await quiet(b.s.c, b.r1.c, b.r2.c);
  await closeAll(a.s, a.r1, a.r2, b.s, b.r1, b.r2);
});

test('a join frame from a client repeats who it is', async () => {
  const room = await createRoom();
  const s = await enter(room);
  s.c.send({ type: 'join', data: { client_id: 'me' } });
  assert.deepEqual(await s.c.next('join'), { type: 'join', data: { client_id: s.id, role: 'sender' } });
  await closeAll(s);
});

// ---- errors ------------------------------------------------------------------------------------

test('every kind of bad input gets {"type":"error","data":{"message"}} and the socket stays usable', async () => {
  const room = await createRoom();
  const s = await enter(room);
  const cases: [unknown, string][] = [
    ['{not json', 'Malformed JSON'],
    [[1, 2], 'Message must be a JSON object with a string "type"'],
    [42, 'Message must be a JSON object with a string "type"'],
    [null, 'Message must be a JSON object with a string "type"'],
    [{ data: {} }, 'Message must be a JSON object with a string "type"'],
    [{ type: 7 }, 'Message must be a JSON object with a string "type"'],
    [{ type: 'hello' }, 'Unknown message type: hello'],
    [{ type: 'offer' }, 'offer requires a "data" object'],
    [{ type: 'offer', data: 'sdp' }, 'offer requires a "data" object'],
    [{ type: 'offer', data: {} }, 'offer requires data.sdp (a non-empty string or an object)'],
    [{ type: 'answer', data: { sdp: '' } }, 'answer requires data.sdp (a non-empty string or an object)'],
    [{ type: 'answer', data: { sdp: 5 } }, 'answer requires data.sdp (a non-empty string or an object)'],
    [{ type: 'ice_candidate', data: { sdp: 'x' } }, 'ice_candidate requires data.candidate (a non-empty string or an object)'],
    [{ type: 'offer', data: { sdp: 'x', to: 5 } }, 'data.to must be a client_id string'],
    [{ type: 'offer', data: { sdp: 'x' } }, 'No receivers in this room'],
    [{ type: 'offer', data: { sdp: 'x', to: 'nobody' } }, 'No receiver nobody in this room'],
  ];
  for (const [frame, message] of cases) {
    s.c.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    assert.deepEqual(await s.c.next(), { type: 'error', data: { message } }, JSON.stringify(frame));
  }
  s.c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.deepEqual(await s.c.next(), { type: 'error', data: { message: 'Binary frames are not supported; send JSON text.' } });
  s.c.send(JSON.stringify({ type: 'offer', data: { sdp: 'x'.repeat(70_000) } }));
  const big = await s.c.next();
  assert.equal(big.type, 'error');
  assert.match(data(big).message as string, /exceeds the limit of 65536/);
  // Still a working sender.
  const r = await enter(room);
  await s.c.next('join');
  s.c.send({ type: 'offer', data: { sdp: 'after-errors' } });
  assert.equal(data(await r.c.next('offer')).sdp, 'after-errors');
  await closeAll(s, r);
});

test('a receiver alone gets "No sender in this room"', async () => {
  const room = await createRoom();
  const s = await enter(room);
  const r = await enter(room);
  await s.c.close();
  assert.deepEqual(await r.c.next('disconnect'), { type: 'disconnect', data: { client_id: s.id } });
  r.c.send({ type: 'answer', data: { sdp: 'x' } });
  assert.deepEqual(await r.c.next('error'), { type: 'error', data: { message: 'No sender in this room' } });
  await closeAll(r);
});

// ---- leaving -----------------------------------------------------------------------------------

test('a disconnect frame leaves and closes; only the sender hears of a receiver leaving', async () => {
  const { room, s, r1, r2 } = await trio();
  r1.c.send({ type: 'disconnect', data: { client_id: r1.id } });
  assert.deepEqual(await s.c.next('disconnect'), { type: 'disconnect', data: { client_id: r1.id } });
  assert.equal((await r1.c.closed).code, 1000);
  // r2 is a receiver too: it hears nothing of r1.
  await quiet(r2.c);
  await r2.c.close();
  assert.deepEqual(await s.c.next('disconnect'), { type: 'disconnect', data: { client_id: r2.id } });
  assert.deepEqual((await status(room)).json.clients, [{ client_id: s.id, role: 'sender' }]);
  await quiet(s.c);
  await closeAll(s);
});

test('when the sender leaves, receivers hear it and the next client to connect becomes the sender', async () => {
  const { room, s, r1, r2 } = await trio();
  await s.c.close();
  assert.deepEqual(await r1.c.next('disconnect'), { type: 'disconnect', data: { client_id: s.id } });
  assert.deepEqual(await r2.c.next('disconnect'), { type: 'disconnect', data: { client_id: s.id } });
  assert.equal((await status(room)).json.sender, null);

  const s2 = await enter(room);
  assert.equal(s2.role, 'sender');
  // The new sender hears of every receiver already waiting.
  const joins = [await s2.c.next('join'), await s2.c.next('join')].map(data);
  assert.deepEqual(new Set(joins.map((j) => j.client_id)), new Set([r1.id, r2.id]));
  assert.ok(joins.every((j) => j.role === 'receiver'));
  r1.c.send({ type: 'answer', data: { sdp: 'to-new-sender' } });
  assert.equal(data(await s2.c.next('answer')).client_id, r1.id);
  const r3 = await enter(room);
  assert.equal(r3.role, 'receiver');
  assert.equal(data(await s2.c.next('join')).client_id, r3.id);
  assert.equal((await status(room)).json.sender, s2.id);
  await quiet(r1.c, r2.c);
  await closeAll(s2, r1, r2, r3);
});

test('an emptied room keeps no trace of its members: the next client is a fresh sender', async () => {
  const room = await createRoom();
  const s = await enter(room);
  const r = await enter(room);
  // A disconnect frame is answered with a close only once the leave is done.
  for (const m of [r, s]) {
    m.c.send({ type: 'disconnect' });
    assert.equal((await m.c.closed).code, 1000);
  }
  const st = await status(room);
  assert.equal(st.status, 200);
  assert.deepEqual(st.json.clients, []);
  const again = await enter(room);
  assert.equal(again.role, 'sender');
  await closeAll(again);
});
