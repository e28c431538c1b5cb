import { createConnection, createServer, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import { ManualClock, type Timer } from '../../src/core/clock.js';
import { connect, type ConnectOptions, type Switchboard, type Timers, type WebSocketConstructor } from 'switchboard/client';
import { tick, until } from '../helpers/wait.js';

export { tick, until };

/**
 * What the SDK tests share: the SDK's own timers on a ManualClock of their own (the server has its
 * own), a WebSocket class that records every socket the SDK opens and every frame it sends, and a
 * TCP proxy that can drop connections (no close frame, as a vanished network), refuse new ones, or
 * swallow what the client sends.
 */

/** The SDK's timers on a ManualClock: advance it to fire backoffs, acks and request timeouts. */
export function manualTimers(clock = new ManualClock()): { clock: ManualClock; timers: Timers } {
  return {
    clock,
    timers: {
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (h) => (h as Timer).cancel(),
    },
  };
}

/** A `ws` subclass that records its instances and what they send. */
export function recordingWebSocket(): { WS: WebSocketConstructor; sockets: RecordedSocket[] } {
  const sockets: RecordedSocket[] = [];
  class Recorded extends WebSocket {
    readonly sent: Record<string, unknown>[] = [];
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
    override send(data: unknown, ...rest: unknown[]): void {
      this.sent.push(JSON.parse(String(data)) as Record<string, unknown>);
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  }
  return { WS: Recorded as unknown as WebSocketConstructor, sockets: sockets };
}
export type RecordedSocket = WebSocket & { sent: Record<string, unknown>[]; url: string };

export interface Proxy {
  port: number;
  url(path?: string): string;
  /** Connections accepted and forwarded so far. */
  readonly accepted: number;
  /** Destroys every open connection on both sides; resolves once the server side is gone. */
  cut(): number;
  /** While true, new connections are destroyed at once (the client sees 1006). */
  refuse: boolean;
  /** While true, bytes from the client are swallowed (the server never gets them). */
  hold: boolean;
  /** While true, bytes from the server are swallowed (the client never gets them). */
  holdDown: boolean;
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
    const upstream = createConnection({ port: targetPort, host: '127.0.0.1' });
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
    refuse: false,
    hold: false,
    holdDown: false,
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

/** Records every event of the given kinds an emitter emits, in order. */
export function record<E extends object>(em: { on<K extends keyof E>(t: K, fn: (p: E[K]) => void): () => void }, kinds: (keyof E)[]): { type: keyof E; payload: unknown }[] {
  const out: { type: keyof E; payload: unknown }[] = [];
  for (const k of kinds) em.on(k, (payload) => out.push({ type: k, payload }));
  return out;
}

/** connect() with `ws` as the WebSocket, manual timers and the given options. */
export async function open(url: string, opts: Partial<ConnectOptions> = {}): Promise<Switchboard> {
  return connect({ url, WebSocket: WebSocket as unknown as WebSocketConstructor, ...opts });
}

/** Resolves with the next payload of an event. */
export function next<T = unknown>(em: { once(t: never, fn: never): unknown }, type: string, guardMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} event within ${guardMs} ms`)), guardMs);
    (em.once as (t: string, fn: (p: T) => void) => unknown).call(em, type, (p: T) => {
      clearTimeout(timer);
      resolve(p);
    });
  });
}

/** The promise, or a failure after guardMs (turns a hang into a failure; no test asserts timings). */
export function within<T>(p: Promise<T>, what: string, guardMs = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), guardMs);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}
