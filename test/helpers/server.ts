import { loadConfig, type Config, type DeepPartial } from '../../src/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { SwitchboardServer, type ServerDeps } from '../../src/server/server.js';
import pino from 'pino';
import { connect, type TestClient } from './ws.js';

export interface TestServer {
  server: SwitchboardServer;
  clock: ManualClock;
  port: number;
  /** ws://127.0.0.1:PORT + path */
  ws(path?: string): string;
  /** http://127.0.0.1:PORT + path */
  http(path?: string): string;
  close(): Promise<void>;
}

/**
 * A real server on 127.0.0.1, port 0, with a ManualClock (advance it to drive heartbeats, room
 * expiry and grace periods) and silent logs (set SWITCHBOARD_TEST_LOG=debug to see them).
 */
export async function startServer(overrides: DeepPartial<Config> = {}, deps: ServerDeps = {}): Promise<TestServer> {
  const clock = (deps.clock as ManualClock | undefined) ?? new ManualClock();
  const config = loadConfig({ overrides: { host: '127.0.0.1', port: 0, ...overrides } });
  const logger = pino({ level: process.env.SWITCHBOARD_TEST_LOG ?? 'silent' });
  const server = new SwitchboardServer(config, { logger, ...deps, clock });
  const { port } = await server.start();
  return {
    server,
    clock,
    port,
    ws: (path = '/v1') => `ws://127.0.0.1:${port}${path}`,
    http: (path = '/') => `http://127.0.0.1:${port}${path}`,
    close: () => server.stop({ drainTimeoutMs: 0 }),
  };
}

/** A server whose rate limits never refill (the injected clock stands still) and three clients at one path. */
export interface Trio {
  srv: TestServer;
  clients: [TestClient, TestClient, TestClient];
  /** Closes the three clients, then the server. */
  close(): Promise<void>;
}

export async function startTrio(path?: string): Promise<Trio> {
  const srv = await startServer({ rateLimits: { messagesPerSecond: 0 } });
  const clients: [TestClient, TestClient, TestClient] = [await connect(srv.ws(path)), await connect(srv.ws(path)), await connect(srv.ws(path))];
  return {
    srv,
    clients,
    close: async () => {
      for (const x of clients) await x.close();
      await srv.close();
    },
  };
}
