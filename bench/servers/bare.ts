/**
 * The bare relay: the practical limit of a `ws` relay in Node on this machine. Per frame it
 * parses the JSON, looks up the target, adds `from`, re-stringifies and forwards. It speaks the
 * native protocol's frames (welcome, join/joined/peer-joined, signal, broadcast) so the same
 * clients drive it, and nothing else: no validation, no errors, no limits, no metrics, no logs,
 * no heartbeat, no leave notifications.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { launch, served } from './launcher.js';

interface Peer {
  id: string;
  ws: WebSocket;
  rooms: Set<string>;
}

launch('bare', async () => {
  const peers = new Map<string, Peer>();
  const rooms = new Map<string, Set<Peer>>();
  const http = createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server: http, clientTracking: false });

  wss.on('connection', (ws) => {
    const me: Peer = { id: randomBytes(16).toString('base64url'), ws, rooms: new Set() };
    peers.set(me.id, me);
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      peers.delete(me.id);
      for (const r of me.rooms) rooms.get(r)?.delete(me);
    });
    ws.on('message', (data: Buffer) => {
      let msg: { type?: string; to?: string; room?: string; from?: string };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      switch (msg.type) {
        case 'signal': {
          const target = peers.get(msg.to as string);
          if (!target) return;
          msg.from = me.id;
          target.ws.send(JSON.stringify(msg));
          return;
        }
        case 'broadcast': {
          const members = rooms.get(msg.room as string);
          if (!members) return;
          msg.from = me.id;
          const text = JSON.stringify(msg);
          for (const p of members) if (p !== me) p.ws.send(text);
          return;
        }
        case 'join': {
          const name = String(msg.room);
          let members = rooms.get(name);
          if (!members) rooms.set(name, (members = new Set()));
          const others = [...members].map((p) => ({ peerId: p.id }));
          const note = JSON.stringify({ type: 'peer-joined', room: name, peer: { peerId: me.id } });
          for (const p of members) p.ws.send(note);
          members.add(me);
          me.rooms.add(name);
          ws.send(JSON.stringify({ type: 'joined', room: name, peers: others }));
          return;
        }
      }
    });
    ws.send(JSON.stringify({ type: 'welcome', peerId: me.id }));
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return served(http);
});
