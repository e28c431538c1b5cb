/**
 * Worker-thread entry of the load generator: builds one driver from workerData and runs the
 * commands the main thread sends ({id, cmd, arg} → {id, ok, value | error}). A failure the driver
 * detects on its own (a dead target) is pushed as {fail}. Exits when the parent goes away.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { LoadDriver } from './driver.js';
import { RelayDriver, type RelayOptions } from './relay.js';
import { FanoutDriver, StormDriver, type FanoutOptions, type StormOptions } from './rooms.js';

export type Task = { task: 'relay'; opts: RelayOptions } | { task: 'fanout'; opts: FanoutOptions } | { task: 'storm'; opts: StormOptions };

const port = parentPort;
if (!port) throw new Error('worker.js runs in a worker thread');
const job = workerData as Task;

const steady: LoadDriver | undefined = job.task === 'relay' ? new RelayDriver(job.opts) : job.task === 'fanout' ? new FanoutDriver(job.opts) : undefined;
const storm = job.task === 'storm' ? new StormDriver(job.opts) : undefined;
(steady ?? storm)!.failed.catch((err: Error) => port.postMessage({ fail: err.message }));

async function handle(cmd: string, arg: unknown): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> {
  if (storm) {
    if (cmd === 'run') {
      const r = await storm.run();
      return { value: r, transfer: [r.joinedUs.buffer as ArrayBuffer, r.rosterUs.buffer as ArrayBuffer] };
    }
    if (cmd === 'close') return { value: await storm.close() };
  } else if (steady) {
    switch (cmd) {
      case 'connect':
        return { value: await steady.connect() };
      case 'start':
        return { value: steady.start(arg as never) };
      case 'begin':
        return { value: steady.beginMeasure() };
      case 'end': {
        const w = steady.endMeasure();
        return { value: w, transfer: [w.samples.buffer as ArrayBuffer] };
      }
      case 'stop':
        return { value: await steady.stop(arg as number) };
      case 'close':
        return { value: await steady.close() };
    }
  }
  throw new Error(`unknown command ${cmd} for a ${job.task} worker`);
}

port.on('message', (m: { id: number; cmd: string; arg?: unknown }) => {
  const failed = (steady ?? storm)!.failed;
  Promise.race([handle(m.cmd, m.arg), failed]).then(
    ({ value, transfer }) => port.postMessage({ id: m.id, ok: true, value }, transfer ?? []),
    (err: Error) => port.postMessage({ id: m.id, ok: false, error: err.message }),
  );
});
