import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

/** The program that hands a URL to the user's default browser, per platform. */
export function openCommand(url: string, platform: NodeJS.Platform = process.platform): { cmd: string; args: string[]; verbatim: boolean } {
  // `start`'s first quoted argument is a window title: the empty one keeps the URL from being taken
  // for it. Verbatim, so Node does not quote `""` again.
  if (platform === 'win32') return { cmd: 'cmd', args: ['/c', 'start', '""', url], verbatim: true };
  if (platform === 'darwin') return { cmd: 'open', args: [url], verbatim: false };
  return { cmd: 'xdg-open', args: [url], verbatim: false };
}

/**
 * The base URL a browser on this machine reaches a listener at: a wildcard address (0.0.0.0, ::)
 * is not one to browse to, so it is `localhost`; an IPv6 address gets its brackets.
 */
export function localBaseUrl(host: string, port: number): string {
  const h = host === '' || host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/**
 * Opens `url` in the default browser, without waiting for it. A failure (no opener installed, no
 * desktop, the opener's own error) is logged as a warning with the URL to open by hand, never
 * thrown: the server serves whether or not a browser came up.
 */
export function openInBrowser(url: string, log: Logger): void {
  const { cmd, args, verbatim } = openCommand(url);
  const failed = (why: string) => log.warn({ url, cmd }, `could not open the browser (${why}); open ${url} yourself`);
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true, windowsHide: true, windowsVerbatimArguments: verbatim });
    child.on('error', (err) => failed(err.message));
    child.on('exit', (code, signal) => {
      if (code === 0) log.info({ url, cmd }, 'opened the dashboard in the browser');
      else failed(`${cmd} exited with ${code ?? signal}`);
    });
    // The server's exit must not wait for an opener that lingers (xdg-open can, until the browser quits).
    child.unref();
  } catch (err) {
    failed((err as Error).message);
  }
}
