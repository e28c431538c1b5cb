import type { Browser, Page } from 'playwright-core';

/**
 * Installed in every demo tab before its scripts run: counts what each RTCPeerConnection goes
 * through (signaling-state changes: two per negotiation; ICE restarts), so a test can tell that a
 * connection was never renegotiated, and reads each remote video's state and decoded frames.
 */
const PROBE = `(() => {
  const Native = window.RTCPeerConnection;
  const pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      this.__signaling = 0;
      this.__restarts = 0;
      pcs.push(this);
      this.addEventListener('signalingstatechange', () => this.__signaling++);
    }
    restartIce() { this.__restarts++; return super.restartIce(); }
  };
  window.__probe = {
    pcs,
    async videos() {
      const out = [];
      for (const v of document.querySelectorAll('video[data-peer-id]')) {
        const peerId = v.dataset.peerId;
        const pc = window.demo?.peers.get(peerId)?.p.pc;
        let frames = 0, bytes = 0;
        if (pc) (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') { frames += s.framesDecoded || 0; bytes += s.bytesReceived || 0; } });
        out.push({
          peerId, width: v.videoWidth, playing: !v.paused && v.readyState >= 2, frames, bytes,
          state: pc ? pc.connectionState : 'none', signaling: pc ? pc.__signaling : -1, restarts: pc ? pc.__restarts : -1,
          local: pc?.localDescription?.sdp ?? '', remote: pc?.remoteDescription?.sdp ?? '',
        });
      }
      return out;
    },
    events(type) { return (window.demo?.events ?? []).filter((e) => !type || e.type === type); },
  };
})();`;

/**
 * The fake camera at a small size and rate (unless a tab asks for the demo's own 720p30): the tests
 * are about signaling, and four tabs each encoding three 720p30 streams in software starve a 2-core
 * machine until ICE and DTLS stall with them.
 */
const SMALL_CAMERA = `(() => {
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => gum(c && c.video ? { ...c, video: { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 10 } } } : c);
})();`;

export interface VideoProbe {
  peerId: string;
  width: number;
  playing: boolean;
  frames: number;
  bytes: number;
  state: string;
  signaling: number;
  restarts: number;
  local: string;
  remote: string;
}

export interface DemoTab {
  page: Page;
  name: string;
  errors: string[];
  peerId(): Promise<string>;
  videos(): Promise<VideoProbe[]>;
  events(type?: string): Promise<{ type: string; [k: string]: unknown }[]>;
}

/** Opens /demo?room=&name=[&server=] in a fresh tab and waits until it is in the room. */
export async function openDemo(browser: Browser, base: string, room: string, name: string, server?: string, opts: { fullCamera?: boolean } = {}): Promise<DemoTab> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  if (!opts.fullCamera) await page.addInitScript(SMALL_CAMERA);
  await page.addInitScript(PROBE);
  const q = new URLSearchParams({ room, name });
  if (server) q.set('server', server);
  await page.goto(`${base}/demo?${q}`);
  // A guard against a hang, not a timing check: three Chromium tests may share two cores with the rest of the suite.
  await page.waitForFunction('window.demo && window.demo.call !== undefined', undefined, { timeout: 30_000 }).catch((err: unknown) => {
    throw new Error(`${name}: the demo did not join within the guard; page errors: ${JSON.stringify(errors)}: ${String(err)}`);
  });
  return {
    page,
    name,
    errors,
    peerId: () => page.evaluate('window.demo.sb.peerId') as Promise<string>,
    videos: () => page.evaluate('window.__probe.videos()') as Promise<VideoProbe[]>,
    events: (type) => page.evaluate(`window.__probe.events(${JSON.stringify(type ?? '')})`) as Promise<{ type: string }[]>,
  };
}

/** Waits (by polling the page, guarded) until the tab shows `n` remote videos, every one decoding frames. */
export async function untilLive(tab: DemoTab, n: number, what: string, guardMs = 20_000): Promise<VideoProbe[]> {
  const deadline = Date.now() + guardMs;
  let last: VideoProbe[] = [];
  let first: Map<string, number> | undefined;
  while (Date.now() < deadline) {
    last = await tab.videos();
    const ready = last.length === n && last.every((v) => v.state === 'connected' && v.width > 0 && v.playing && v.frames > 0);
    if (ready) {
      // live: frames keep coming after the first look
      if (!first) first = new Map(last.map((v) => [v.peerId, v.frames]));
      else if (last.every((v) => v.frames > (first!.get(v.peerId) ?? Infinity))) return last;
    } else first = undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last.map(({ local: _l, remote: _r, ...v }) => v))}; page errors: ${tab.errors.join(' | ')}`);
}
