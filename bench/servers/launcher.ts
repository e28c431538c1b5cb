/**
 * The common half of every server launcher. A launcher is forked by the harness (with an IPC
 * channel and --expose-gc), starts one server on 127.0.0.1:0 and reports {type:'ready', port}.
 * It answers {type:'gc'} with its memory after a full collection and {type:'stop'} by closing and
 * exiting. It also exits on its own when the harness goes away or after maxLifetimeMs, so no
 * server outlives a run.
 */

import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Session } from 'node:inspector';
import type { AddressInfo } from 'node:net';

export interface Started {
  port: number;
  stop(): Promise<void>;
}

/** A listening HTTP server as a launcher's result: its port, and a stop that drops every connection. */
export function served(http: Server): Started {
  return {
    port: (http.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      }),
  };
}

export type LauncherMessage = { type: 'ready'; port: number; pid: number } | { type: 'mem'; rss: number; heapUsed: number; external: number; arrayBuffers: number } | { type: 'profiled'; file: string };

/**
 * A CPU profile of a window the harness chooses ({type:'profile', start:true}, then {start:false,
 * file}): the steady part only, without start-up, connections and warm-up (`--profile-window`).
 */
function profiler(send: (m: LauncherMessage) => void): (m: { start?: boolean; file?: string }) => void {
  let session: Session | undefined;
  return (m) => {
    if (m.start) {
      session = new Session();
      session.connect();
      session.post('Profiler.enable', () => session!.post('Profiler.start'));
      return;
    }
    const s = session;
    session = undefined;
    if (!s || !m.file) return;
    const file = m.file;
    s.post('Profiler.stop', (err, out) => {
      if (!err) writeFileSync(file, JSON.stringify(out.profile));
      s.disconnect();
      send({ type: 'profiled', file: err ? '' : file });
    });
  };
}

export function launch(name: string, start: () => Promise<Started>, maxLifetimeMs = Number(process.env.BENCH_SERVER_MAX_LIFETIME_MS ?? 15 * 60_000)): void {
  if (!process.send) {
    console.error(`${name}: run this from the benchmark harness (it needs an IPC channel)`);
    process.exit(2);
  }
  const send = (m: LauncherMessage) => process.send!(m);
  const lifetime = setTimeout(() => {
    console.error(`${name}: lifetime of ${maxLifetimeMs} ms reached, exiting`);
    process.exit(3);
  }, maxLifetimeMs);
  lifetime.unref();

  start().then(
    (s) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        const hard = setTimeout(() => process.exit(0), 3000);
        hard.unref();
        s.stop().finally(() => process.exit(0));
      };
      const profile = profiler(send);
      process.on('message', (m: { type?: string; start?: boolean; file?: string }) => {
        if (m.type === 'profile') profile(m);
        else if (m.type === 'gc') {
          const gc = (globalThis as { gc?: () => void }).gc;
          gc?.();
          gc?.();
          const u = process.memoryUsage();
          send({ type: 'mem', rss: u.rss, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers });
        } else if (m.type === 'stop') stop();
      });
      process.on('disconnect', stop);
      send({ type: 'ready', port: s.port, pid: process.pid });
    },
    (err: Error) => {
      console.error(`${name}: failed to start: ${err.stack ?? err.message}`);
      process.exit(1);
    },
  );
}
