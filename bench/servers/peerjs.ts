/**
 * PeerJS's server (npm `peer`) under test, as its README starts it, with one change: the
 * concurrent-client limit (default 5000) is lifted so the idle-capacity scenario can fill it.
 */
import { PeerServer } from 'peer';
import { launch, served } from './launcher.js';

launch('peerjs', async () => {
  const http = await new Promise<import('node:http').Server>((resolve) => {
    PeerServer({ host: '127.0.0.1', port: 0, key: 'peerjs', path: '/', concurrent_limit: 1_000_000 }, (server) => resolve(server as import('node:http').Server));
  });
  return served(http);
});
