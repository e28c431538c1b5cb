import { randomInt } from 'node:crypto';
import { HubError, isHubError } from '../../core/errors.js';
import type { Hub } from '../../core/hub.js';
import type { Session } from '../../core/session.js';
import type { RoomOptions } from '../../core/types.js';

const FIRST = 1000;
const LAST = 9999;

export const NO_FREE_ROOM_ID = 'No free room id; try again later';

export function randomRoomId(): string {
  return String(randomInt(FIRST, LAST + 1));
}

/** A generator that hands out the given ids in random order (repeating the last one when spent). */
function drawFrom(ids: string[]): () => string {
  let last = ids[0] ?? String(FIRST);
  return () => {
    if (ids.length > 0) last = ids.splice(randomInt(ids.length), 1)[0]!;
    return last;
  };
}

/**
 * Creates a room with a fresh 4-digit id. The hub creates atomically and retries collisions, so a
 * live room is never reused (the original merged rooms on a collision). Random draws only fail
 * when the 9,000 ids are nearly all live; then the free ids are listed and drawn from, so creation
 * succeeds while any id is free.
 *
 * One address holds at most rooms.maxPerAddress of the ids (default 100, about 1 %), so it alone
 * can never bring the space near full. An address at its quota is refused by the store before its
 * draw is compared with the live rooms (`room-quota` passes straight through here), so however
 * often it asks, it never drives the listing below, which costs a read of every room.
 */
export async function createMeshRoom(hub: Hub, session: Session, defaults: RoomOptions): Promise<string> {
  try {
    return await hub.createRoom(session, { generate: randomRoomId, defaults });
  } catch (err) {
    if (!isHubError(err) || err.code !== 'room-exists') throw err;
  }
  const prefix = `${session.namespace}/`;
  const taken = new Set((await hub.listRooms(session.namespace)).map((r) => r.key.slice(prefix.length)));
  const free: string[] = [];
  for (let n = FIRST; n <= LAST; n++) if (!taken.has(String(n))) free.push(String(n));
  if (free.length === 0) throw new HubError('room-exists', NO_FREE_ROOM_ID);
  try {
    return await hub.createRoom(session, { generate: drawFrom(free), defaults });
  } catch (err) {
    if (isHubError(err) && err.code === 'room-exists') throw new HubError('room-exists', NO_FREE_ROOM_ID);
    throw err;
  }
}
