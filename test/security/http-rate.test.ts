import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer } from '../helpers/server.js';

test('room creation over HTTP is rate-limited per client address (429), on the injected clock', async () => {
  const srv = await startServer({ rateLimits: { httpCreatesPerSecond: 1, httpCreateBurst: 3 } });
  const post = (path: string) => fetch(srv.http(path), { method: 'POST' });
  const first = await post('/room');
  assert.equal(first.status, 201);
  const { id } = (await first.json()) as { id: string };
  assert.equal((await post('/api/room')).status, 200);
  assert.equal((await post('/room')).status, 201);
  // the burst of 3 is spent, across both creation routes
  const refused = await post('/api/room');
  assert.equal(refused.status, 429);
  assert.deepEqual(await refused.json(), { error: 'too many rooms created from your address; slow down' });
  assert.equal((await post('/room')).status, 429);
  // reading is not limited
  assert.equal((await fetch(srv.http(`/room/${id}`))).status, 200);
  srv.clock.advance(1000);
  assert.equal((await post('/room')).status, 201);
  assert.equal((await post('/room')).status, 429);
  await srv.close();
});

test('rateLimits.httpCreatesPerSecond 0 lifts the HTTP creation limit', async () => {
  const srv = await startServer({ rateLimits: { httpCreatesPerSecond: 0 } });
  for (let i = 0; i < 60; i++) assert.equal((await fetch(srv.http('/api/room'), { method: 'POST' })).status, 200);
  await srv.close();
});
