import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that a test controls: it forwards every connection to the target port,
 * and can cut the open ones (both ends destroyed, no WebSocket close frame: what a network drop
 * looks like to the client and to the server), refuse new ones, or swallow bytes either way.
 */
export interface Proxy {
  port: number;
  url(path?: string): string;
  /** Connections accepted and forwarded so far. */
  readonly accepted: number;
  /** Connections open now. */
  readonly open: number;
  /** Destroys every open connection on both sides; resolves once the server side is gone. */
  cut(): number;
  /** While true, new connections are destroyed at once (the client sees 1006). */
  refuse: boolean;
  /** While true, bytes from the client are swallowed (the server never gets them). */
  hold: boolean;
  /** While true, bytes from the server are swallowed (the client never gets them). */
  holdDown: boolean;
  /** The port new connections go to (set it to move later clients to another server). */
  target: number;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    if (proxy.refuse) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = createConnection({ port: proxy.target, host: '127.0.0.1' });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (d: Buffer) => {
      if (!proxy.hold) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!proxy.holdDown) client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const proxy: Proxy = {
    port,
    url: (path = '/v1') => `ws://127.0.0.1:${port}${path}`,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    refuse: false,
    hold: false,
    holdDown: false,
    target: targetPort,
    cut() {
      const n = pairs.size;
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
      return n;
    },
    close() {
      proxy.cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

