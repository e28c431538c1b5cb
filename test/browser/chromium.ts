import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium; tests that need it skip loudly (naming the apt package) where it is missing. */
const CHROMIUM = '/usr/bin/chromium';
export const chromiumAvailable = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).status === 0;
export const chromiumSkip = chromiumAvailable ? false : 'chromium not found: install the apt package `chromium` (.ci/run does)';
if (!chromiumAvailable) {
  process.stderr.write('\n*** SKIPPING browser tests: /usr/bin/chromium is missing. Install it with `apt-get install chromium`. ***\n\n');
}

/**
 * Headless Chromium with the flags this machine needs (see shared/TOOLING.md); a fresh profile each
 * launch. `fakeMedia`: a fake camera and microphone that getUserMedia grants without asking.
 */
export function launchChromium(opts: { fakeMedia?: boolean } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      ...(opts.fakeMedia ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'] : []),
    ],
  });
}

/** Serves one HTML page on 127.0.0.1 (Chromium is pointed at an address, not localhost). */
export async function servePage(html: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
