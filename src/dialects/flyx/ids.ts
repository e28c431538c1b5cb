import { randomInt } from 'node:crypto';
import type { IdGenerator } from '../../core/ids.js';
import type { UpgradeInfo } from '../dialect.js';

/** Upper case and digits only: the id is read aloud and typed by people sharing a file. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const ROOM_ID_LENGTH = 6;
const ROOM_ID = /^[A-Za-z0-9]{6}$/;

/** A fresh 6-character id (36^6 ≈ 2.2 billion); the hub retries it on collision with a live room. */
export const generateRoomId: IdGenerator = () => {
  let id = '';
  for (let i = 0; i < ROOM_ID_LENGTH; i++) id += ALPHABET[randomInt(ALPHABET.length)];
  return id;
};

/**
 * A room id as a client wrote it → the canonical id, or undefined when it cannot be one. Case is
 * folded because ids are typed by hand; generated ids are upper case.
 */
export function parseRoomId(raw: string | undefined): string | undefined {
  return raw !== undefined && ROOM_ID.test(raw) ? raw.toUpperCase() : undefined;
}

/**
 * The room id of an upgrade: from the route's `:param`, or else the path's last segment. The
 * fallback matters on a listener pinned to this dialect (e.g. port 8000 for the CLI), where the
 * route is `*` and carries no params.
 */
export function roomIdOf(info: UpgradeInfo, param: string): string | undefined {
  const fromRoute = info.params[param];
  if (fromRoute !== undefined) return parseRoomId(fromRoute);
  const last = info.path.split('/').filter((s) => s.length > 0).pop();
  if (last === undefined) return undefined;
  try {
    return parseRoomId(decodeURIComponent(last));
  } catch {
    return undefined;
  }
}
