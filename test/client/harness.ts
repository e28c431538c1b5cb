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

export { startProxy, type Proxy } from '../helpers/tcp-proxy.js';

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
