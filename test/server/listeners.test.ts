import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { SwitchboardServer } from '../../src/server/server.js';
import { startServer } from '../helpers/server.js';
import { connect } from '../helpers/ws.js';
import { memberCount, until } from '../helpers/wait.js';

test('extra listeners serve every dialect; a pinned listener serves one dialect on every path', async () => {
  const srv = await startServer({ listeners: [{ port: 0 }, { port: 0, dialect: 'mesh' }] });
  const [main, extra, pinned] = srv.server.addresses();
  assert.equal(srv.server.addresses().length, 3);
  for (const a of [main!, extra!]) {
    const c = await connect(`ws://127.0.0.1:${a.port}/v1`);
    assert.equal((await c.next()).type, 'welcome');
    await c.close();
    const res = await fetch(`http://127.0.0.1:${a.port}/api/health`);
    assert.equal(await res.text(), 'Ok');
  }
  // even /v1 speaks mesh on the pinned listener
  const m = await connect(`ws://127.0.0.1:${pinned!.port}/v1`);
  m.send({ type: 'create' });
  assert.equal((await m.next()).type, 'room_created');
  await m.close();
  // the pinned listener has no other dialect's HTTP routes, but the server's own
  assert.equal((await fetch(`http://127.0.0.1:${pinned!.port}/api/health`)).status, 404);
  assert.equal((await fetch(`http://127.0.0.1:${pinned!.port}/health`)).status, 200);
  await srv.close();
});

test('routes pin a dialect to an extra path', async () => {
  const srv = await startServer({ routes: [{ path: '/android', dialect: 'slam-pair' }, { path: '/unity/:any', dialect: 'mesh' }] });
  const u = await connect(srv.ws('/unity/lobby'));
  u.send({ type: 'create' });
  assert.equal((await u.next()).type, 'room_created');
  await u.close();
  const a = await connect(srv.ws('/android'));
  const b = await connect(srv.ws('/android'));
  // wait until both are in the pairing group of /android
  await until(async () => (await memberCount(srv.server.hub, 'slam-pair', '/android')) >= 2, 'both sockets in the pairing group');
  a.send({ type: 'offer', sdp: 'v=0' });
  assert.deepEqual(await b.next(), { type: 'offer', sdp: 'v=0' });
  await a.close();
  await b.close();
  await srv.close();
});

test('an unknown dialect in listeners or routes is a configuration error naming the key', () => {
  assert.throws(
    () => new SwitchboardServer(loadConfig({ overrides: { routes: [{ path: '/x', dialect: 'nope' }] } })),
    (e: ConfigError) => e instanceof ConfigError && e.key === 'routes.0.dialect',
  );
  assert.throws(
    () => new SwitchboardServer(loadConfig({ overrides: { listeners: [{ port: 1, dialect: 'nope' }] } })),
    (e: ConfigError) => e instanceof ConfigError && e.key === 'listeners.0.dialect',
  );
});

test('a listener that cannot bind fails start() cleanly', async () => {
  const first = await startServer();
  const clash = new SwitchboardServer(loadConfig({ overrides: { host: '127.0.0.1', port: 0, logLevel: 'silent', listeners: [{ port: first.port }] } }));
  await assert.rejects(clash.start(), /EADDRINUSE/);
  assert.equal(clash.state, 'stopped');
  await first.close();
});
