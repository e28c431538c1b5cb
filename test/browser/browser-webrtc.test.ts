import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SECRET, sign } from '../security/auth-tokens.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { chromiumSkip, launchChromium, servePage } from './chromium.js';
import { memberCount, until } from '../helpers/wait.js';

/**
 * The page a browser client would be: it speaks the native protocol from Chromium, joins a room and
 * opens an RTCPeerConnection data channel to the other member through Switchboard's relays.
 */
const PAGE = `<!doctype html><meta charset="utf-8"><title>switchboard browser test</title><script>
window.run = (wsUrl, room, protocols) => new Promise((resolve, reject) => {
  const ws = protocols ? new WebSocket(wsUrl, protocols) : new WebSocket(wsUrl);
  let me, other, pc;
  const send = (m) => ws.send(JSON.stringify(m));
  const signal = (data) => send({ type: 'signal', to: other, data });
  const peer = () => {
    pc = new RTCPeerConnection({ iceServers: [] });
    pc.onicecandidate = (e) => e.candidate && signal({ ice: e.candidate.toJSON() });
    pc.ondatachannel = (e) => { e.channel.onmessage = (m) => resolve({ me, protocol: ws.protocol, received: m.data }); };
    return pc;
  };
  ws.onerror = () => reject(new Error('websocket error'));
  ws.onclose = (e) => reject(new Error('closed ' + e.code));
  ws.onmessage = async (e) => {
    const m = JSON.parse(e.data);
    if (m.type === 'welcome') { me = m.peerId; send({ type: 'join', room }); }
    else if (m.type === 'joined' && m.peers.length) {
      // second in: make the offer, as the smaller party would
      other = m.peers[0].peerId;
      peer();
      const dc = pc.createDataChannel('chat');
      dc.onopen = () => { dc.send('hello from ' + me); resolve({ me, protocol: ws.protocol, sent: true }); };
      await pc.setLocalDescription(await pc.createOffer());
      signal({ sdp: pc.localDescription.toJSON() });
    } else if (m.type === 'signal') {
      other = m.from;
      if (!pc) peer();
      if (m.data.sdp) {
        await pc.setRemoteDescription(m.data.sdp);
        if (m.data.sdp.type === 'offer') { await pc.setLocalDescription(await pc.createAnswer()); signal({ sdp: pc.localDescription.toJSON() }); }
      } else if (m.data.ice) await pc.addIceCandidate(m.data.ice);
    } else if (m.type === 'error') reject(new Error(m.code + ': ' + m.message));
  };
});
</script>`;

interface Result {
  me: string;
  protocol: string;
  received?: string;
  sent?: boolean;
}

describe('real Chromium tabs through Switchboard', { skip: chromiumSkip }, () => {
  let browser: Browser;
  let page: { url: string; close(): Promise<void> };
  before(async () => {
    browser = await launchChromium();
    page = await servePage(PAGE);
  });
  after(async () => {
    await browser?.close();
    await page?.close();
  });

  async function pair(srv: TestServer, room: string, protocolsA?: string[], protocolsB?: string[]) {
    const [ta, tb] = [await browser.newPage(), await browser.newPage()];
    await ta.goto(page.url);
    await tb.goto(page.url);
    const a = ta.evaluate(([u, r, p]) => (globalThis as unknown as { run: (...x: unknown[]) => Promise<unknown> }).run(u, r, p), [srv.ws('/v1'), room, protocolsA] as const);
    // the first tab must be in the room before the second arrives and makes its offer
    await until(async () => (await memberCount(srv.server.hub, 'native', room)) >= 1, 'the first tab in the room');
    const b = tb.evaluate(([u, r, p]) => (globalThis as unknown as { run: (...x: unknown[]) => Promise<unknown> }).run(u, r, p), [srv.ws('/v1'), room, protocolsB] as const);
    const [ra, rb] = (await Promise.all([a, b])) as Result[];
    await ta.close();
    await tb.close();
    return [ra!, rb!] as const;
  }

  test('two tabs open a WebRTC data channel through the native protocol', async () => {
    const srv = await startServer();
    const [a, b] = await pair(srv, 'browser-room');
    // the second tab offered and sent over the data channel; the first received it
    assert.equal(b.sent, true);
    assert.equal(a.received, `hello from ${b.me}`);
    await srv.close();
  });

  test('with auth on, a browser passes its token as a WebSocket subprotocol and the handshake is valid', async () => {
    const srv = await startServer({ auth: { secret: SECRET } });
    const now = srv.clock.now();
    const ta = await sign({ sub: 'alice' }, { now });
    const tb = await sign({ sub: 'bob' }, { now });
    const [a, b] = await pair(srv, 'auth-room', ['switchboard.v1', `switchboard.token.${ta}`], ['switchboard.v1', `switchboard.token.${tb}`]);
    // the server chose the non-token subprotocol: the token never echoes back into the page
    assert.equal(a.protocol, 'switchboard.v1');
    assert.equal(a.received, `hello from ${b.me}`);
    await srv.close();
  });
});
