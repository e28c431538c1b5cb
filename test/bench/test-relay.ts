import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * A relay for the harness's own tests, speaking the native frames the load generator uses. Every
 * `signal` goes through `onSignal`, which decides when (and whether) to forward it — so a test
 * controls delivery by events, not by sleeping.
 */
export interface TestRelay {
  base: string;
  /** Signal frames received from clients. */
  received: number;
  /** Signal frames forwarded. */
  forwarded: number;
  /** Resolves once `n` signal frames have been received. */
  receivedAtLeast(n: number): Promise<void>;
  close(): Promise<void>;
}

export type SignalHook = (index: number, forward: () => void) => void;

export async function startTestRelay(onSignal: SignalHook = (_i, forward) => forward()): Promise<TestRelay> {
  const peers = new Map<string, WebSocket>();
  let n = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const rooms = new Map<string, string[]>();
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http });
  const relay: TestRelay = {
    base: '',
    received: 0,
    forwarded: 0,
    receivedAtLeast(k) {
      if (relay.received >= k) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n: k, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of peers.values()) ws.terminate();
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
  wss.on('connection', (ws) => {
    const id = `p${n++}`;
    peers.set(id, ws);
    ws.on('close', () => peers.delete(id));
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { type: string; to?: string; room?: string; from?: string };
      if (msg.type === 'join') {
        // The members already there hear the newcomer, as the native protocol says (the driver waits for it).
        const there = rooms.get(msg.room!) ?? [];
        for (const other of there) peers.get(other)?.send(JSON.stringify({ type: 'peer-joined', room: msg.room, peer: { peerId: id } }));
        rooms.set(msg.room!, [...there, id]);
        return ws.send(JSON.stringify({ type: 'joined', room: msg.room, peers: there.map((peerId) => ({ peerId })) }));
      }
      if (msg.type !== 'signal') return;
      const index = relay.received++;
      for (const w of waiters.filter((x) => relay.received >= x.n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      onSignal(index, () => {
        msg.from = id;
        relay.forwarded++;
        peers.get(msg.to!)?.send(JSON.stringify(msg));
      });
    });
    ws.send(JSON.stringify({ type: 'welcome', peerId: id }));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  relay.base = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return relay;
}
