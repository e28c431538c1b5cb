/**
 * A child process that holds idle connections for the idle-capacity scenario: one process holds
 * at most a few thousand sockets, because `ulimit -n` (20000) is per process. Controlled over IPC:
 * {type:'open', …} → {type:'opened'}; {type:'close'} → {type:'closed'} and exit. A socket the
 * server closes is reported as {type:'lost'}. Exits when the harness goes away.
 */
import { bounded, connectClient, wireFor, type Client, type Protocol } from '../protocol.js';
import { closeAll } from './relay.js';

export type IdleCommand = { type: 'open'; base: string; protocol: Protocol; count: number; name: string; concurrency: number } | { type: 'close' };
export type IdleReport = { type: 'opened'; count: number } | { type: 'error'; message: string } | { type: 'lost'; message: string } | { type: 'closed' };

const send = (m: IdleReport) => process.send?.(m);
const held: Client[] = [];
const lifetime = setTimeout(() => process.exit(3), Number(process.env.BENCH_CLIENT_MAX_LIFETIME_MS ?? 10 * 60_000));
lifetime.unref();

process.on('disconnect', () => process.exit(0));
process.on('message', (m: IdleCommand) => {
  if (m.type === 'open') {
    const wire = wireFor(m.protocol);
    const ids = Array.from({ length: m.count }, (_, i) => `${m.name}-${held.length + i}`);
    bounded(ids, m.concurrency, async (id) => {
      const c = await connectClient(m.base, wire, id);
      c.onLost = (why) => send({ type: 'lost', message: why });
      held.push(c);
    }).then(
      () => send({ type: 'opened', count: held.length }),
      (err: Error) => send({ type: 'error', message: err.message }),
    );
  } else if (m.type === 'close') {
    void closeAll(held).then(() => {
      send({ type: 'closed' });
      process.exit(0);
    });
  }
});
