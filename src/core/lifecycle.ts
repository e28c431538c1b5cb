import type { MemberRecord } from './backplane.js';

/** The room lifecycle as the outside world hears it (webhooks; docs/operations.md, "Webhooks"). */
export type LifecycleType = 'room.started' | 'room.finished' | 'peer.joined' | 'peer.left';

/**
 * Where the hub reports room lifecycle changes. It is called once per change cluster-wide: by the
 * node whose store operation made the change, right after the store answered (so a node's events
 * reach the sink in the store's order). `roomKey` is `<namespace>/<name>`; `data` holds the fields
 * beyond the dialect and room (peerId, name, identity, node, reason). Must not throw.
 */
export interface LifecycleSink {
  event(type: LifecycleType, roomKey: string, data: Record<string, unknown>): void;
}

/** What a receiver of peer.joined wants to know about the member. */
export function joinedData(m: MemberRecord): Record<string, unknown> {
  const d: Record<string, unknown> = { peerId: m.peerId };
  if (m.name !== undefined) d.name = m.name;
  if (m.identity !== undefined) d.identity = m.identity;
  d.node = m.node;
  return d;
}
