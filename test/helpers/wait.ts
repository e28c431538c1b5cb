/** One turn of the event loop: pending I/O callbacks and promise continuations run. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Waits for a server-side condition by turns of the event loop, never by sleeping. The guard only
 * turns a hang into a failure; no test asserts how long it took.
 */
export async function until(cond: () => boolean | Promise<boolean>, what: string, guardMs = 5000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

/** Members the shared store lists for a room (what other nodes will see). */
export async function memberCount(hub: { roomInfo(ns: string, name: string): Promise<{ members: unknown[] } | undefined> }, ns: string, room: string): Promise<number> {
  return (await hub.roomInfo(ns, room))?.members.length ?? 0;
}
