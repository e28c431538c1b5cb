import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import wrtc from '@roamhq/wrtc';
import type { Call, CallOptions, CallPeer, Room, Switchboard } from 'switchboard/client';
import { startServer, type TestServer } from '../helpers/server.js';
import { manualTimers, open, record, startProxy, until, type Proxy } from './harness.js';

/**
 * The mesh-call helper with real WebRTC peers (libwebrtc through @roamhq/wrtc), signaling through
 * Switchboard: every member connects to every other with Perfect Negotiation. Both sides of each
 * pair create their connection (and its negotiated data channels) at once; the impolite side makes
 * the first offer and the polite one answers it (docs/client.md: why the polite side waits). Then one
 * member's signaling socket is cut: its calls go on, and a newcomer still reaches it.
 */

const FAR = { heartbeat: { intervalMs: 1_000_000_000, timeoutMs: 2_000_000_000 } };
const GUARD = 20_000;

interface Member {
  sb: Switchboard;
  room: Room;
  call: Call;
  /** Text received on 'chat', per remote peer id. */
  chat: Map<string, string[]>;
}

async function member(url: string, name: string, extra: Partial<Parameters<typeof open>[1]> = {}, roomName = 'mesh'): Promise<Member> {
  const sb = await open(url, extra);
  const room = await sb.join(roomName, { name });
  const call = room.call({
    channels: ['chat', 'file'],
    RTCPeerConnection: wrtc.RTCPeerConnection as unknown as CallOptions['RTCPeerConnection'],
    MediaStream: wrtc.MediaStream as unknown as CallOptions['MediaStream'],
    configuration: { iceServers: [] },
  });
  const chat = new Map<string, string[]>();
  call.on('peer', (p: CallPeer) => {
    const ch = p.channel('chat')!;
    chat.set(p.peerId, []);
    ch.onmessage = (m: MessageEvent) => chat.get(p.peerId)!.push(String(m.data));
  });
  return { sb, room, call, chat };
}

/** Waits until a's chat channel to b is open, then sends text. */
async function say(a: Member, b: Member, text: string): Promise<void> {
  await until(() => a.call.peers.get(b.sb.peerId)?.channel('chat')?.readyState === 'open', `${a.room.options.name}→${b.room.options.name} chat open`, GUARD);
  a.call.peers.get(b.sb.peerId)!.channel('chat')!.send(text);
}

async function heard(b: Member, a: Member, text: string): Promise<void> {
  await until(() => b.chat.get(a.sb.peerId)?.includes(text) === true, `${b.room.options.name} to hear "${text}"`, GUARD);
}

describe('room.call(): Perfect Negotiation over Switchboard with real peers', () => {
  let srv: TestServer;
  let proxy: Proxy;
  const members: Member[] = [];
  before(async () => {
    srv = await startServer(FAR);
    proxy = await startProxy(srv.port);
  });
  after(async () => {
    for (const m of members) {
      m.call.close();
      m.sb.close();
    }
    await proxy.close();
    await srv.close();
  });

  test('three members connect pairwise (both sides create their connection at once); a dropped signaling socket resumes and the calls go on; a fourth member still connects to it', async () => {
    const { clock, timers } = manualTimers();
    const ann = await member(proxy.url(), 'Ann', { timers });
    members.push(ann);
    const bob = await member(srv.ws(), 'Bob');
    members.push(bob);
    const cy = await member(srv.ws(), 'Cy');
    members.push(cy);
    const appSignals = record(bob.room, ['signal']);

    for (const [a, b] of [[ann, bob], [bob, cy], [cy, ann]] as const) {
      await say(a, b, `hi from ${a.room.options.name}`);
      await say(b, a, `hi from ${b.room.options.name}`);
      await heard(b, a, `hi from ${a.room.options.name}`);
      await heard(a, b, `hi from ${b.room.options.name}`);
      const pa = a.call.peers.get(b.sb.peerId)!;
      const pb = b.call.peers.get(a.sb.peerId)!;
      assert.notEqual(pa.polite, pb.polite, 'one side of each pair is polite');
      assert.equal(pa.polite, a.sb.peerId > b.sb.peerId);
    }
    assert.deepEqual(appSignals, [], "the helper's signals never reach the room's signal event");

    // Ann's signaling socket drops: she resumes; nobody sees her leave; the data channels never noticed.
    const callEvents = record(bob.call, ['peer-left', 'peer']);
    const resumed = new Promise<void>((resolve) => ann.sb.once('resumed', () => resolve()));
    proxy.cut();
    await until(() => ann.sb.state === 'reconnecting', 'the drop');
    await say(bob, ann, 'while her signaling is down');
    await heard(ann, bob, 'while her signaling is down');
    clock.advance(375);
    await resumed;
    assert.deepEqual(callEvents, [], 'no peer-left, no new peer connection');

    // A fourth member joins: signaling to Ann (through her resumed session) works.
    const dee = await member(srv.ws(), 'Dee');
    members.push(dee);
    await say(dee, ann, 'welcome back');
    await heard(ann, dee, 'welcome back');
    await say(ann, dee, 'thanks');
    await heard(dee, ann, 'thanks');
    assert.equal(ann.call.peers.size, 3);

    // Leaving closes the peer connections on the other side.
    const left = new Promise<string>((resolve) => ann.call.once('peer-left', resolve));
    await dee.room.leave();
    assert.equal(await left, dee.sb.peerId);
    assert.equal(ann.call.peers.has(dee.sb.peerId), false);
  });
  // Media (tracks, remoteStream) is checked in Chromium (test/browser/demo*.test.ts): @roamhq/wrtc's
  // RTCVideoSource crashes the Node process at exit (SIGSEGV in a finalizer), whatever is closed first.
});
