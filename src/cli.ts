import { parseArgs as parseArgv } from 'node:util';
import { configLeaves, configTable, ConfigError, loadConfig } from './config.js';
import { localBaseUrl, openInBrowser } from './open-browser.js';
import { inSea } from './sea.js';
import { SwitchboardServer } from './server/server.js';
import { VERSION } from './version.js';

const HELP = `switchboard ${VERSION} — WebRTC signaling server

Usage: switchboard [options]

  -p, --port <n>        port to listen on (default 8765; env PORT)
  -H, --host <addr>     address to listen on (default 0.0.0.0; env HOST)
  -c, --config <file>   JSON config file (env SWITCHBOARD_CONFIG)
  -l, --log-level <l>   trace|debug|info|warn|error|fatal|silent
      --open            once listening, print the URLs and open the dashboard in the default browser
      --no-open         never open a browser
  -h, --help            this text
  -v, --version         print the version

Every setting also has a flag and an environment variable (a true/false setting is a switch:
--flag turns it on, --no-flag off):

${configLeaves()
  .map((l) => `  ${l.flag.padEnd(32)} ${l.env}`)
  .join('\n')}

Precedence: defaults < config file < environment < flags. See README.md and docs/.
Endpoints: ws://HOST:PORT/v1 (native protocol), GET /health, /ready, /metrics, /demo, /dashboard.

Opening the browser: only with --open, except that the single executable (switchboard-linux-x64,
switchboard-win-x64.exe) started with no arguments at all (a double-click) serves with the defaults,
prints the URLs and opens the dashboard. --no-open never opens; a failed open is logged, not fatal.
`;

export interface ParsedArgs {
  help: boolean;
  version: boolean;
  configTable: boolean;
  /** --open (true), --no-open (false), neither (undefined); the last one given wins. */
  open: boolean | undefined;
  file: string | undefined;
  flags: Record<string, string>;
}

type OptionSpec = { type: 'string' | 'boolean'; short?: string };

/** The command's own options beside the settings' flags. */
const COMMAND_OPTIONS: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  'print-config-table': { type: 'boolean' },
  open: { type: 'boolean' },
  'no-open': { type: 'boolean' },
  config: { type: 'string', short: 'c' },
};

/** Settings with a short form. */
const SHORT: Record<string, string> = { port: 'p', host: 'H', 'log-level': 'l' };

/**
 * The option table for node:util's parseArgs: every setting's flag takes a value, except booleans,
 * which are `--flag` (true) and `--no-flag` (false) and never swallow the next argument.
 */
function optionTable(): { options: Record<string, OptionSpec>; keyOf: Map<string, { key: string; value?: string }> } {
  const options: Record<string, OptionSpec> = { ...COMMAND_OPTIONS };
  const keyOf = new Map<string, { key: string; value?: string }>();
  for (const leaf of configLeaves()) {
    const name = leaf.flag.slice(2);
    if (leaf.schema.type === 'boolean') {
      options[name] = { type: 'boolean' };
      options[`no-${name}`] = { type: 'boolean' };
      keyOf.set(name, { key: leaf.key, value: 'true' });
      keyOf.set(`no-${name}`, { key: leaf.key, value: 'false' });
    } else {
      const short = SHORT[name];
      options[name] = short ? { type: 'string', short } : { type: 'string' };
      keyOf.set(name, { key: leaf.key });
    }
  }
  return { options, keyOf };
}

/** parseArgs' complaint as a ConfigError naming the flag (or the setting, when a value is missing). */
function usageError(err: { code?: string; message: string }, keyOf: Map<string, { key: string }>): ConfigError {
  const first = err.message.split('\n')[0]!;
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /'([^']*)'/.exec(first)?.[1] ?? 'arguments';
    return new ConfigError(arg, 'unexpected argument: every setting is a --flag (see --help)');
  }
  // "Option '-p, --port <value>' …": the long form names the setting.
  const flag = /'(?:-\w, )?(--?[^' <]+)/.exec(first)?.[1] ?? 'arguments';
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new ConfigError(flag, 'unknown option (see --help)');
  const long = flag.replace(/^-+/, '');
  const key = keyOf.get(long)?.key ?? (long === 'c' || long === 'config' ? 'config' : flag);
  if (/argument missing/.test(first)) return new ConfigError(key, `${flag} needs a value`);
  if (/ambiguous/.test(first)) return new ConfigError(key, `${flag} needs a value (to pass one that starts with a dash, write ${flag}=-…)`);
  if (/does not take an argument/.test(first)) return new ConfigError(key, `${flag} is a switch and takes no value (write ${flag} or --no-${long})`);
  return new ConfigError(key, first);
}

/** Parses the command line with node:util's parseArgs; a usage problem is a ConfigError. */
export function parseArgs(argv: string[]): ParsedArgs {
  const { options, keyOf } = optionTable();
  let tokens: NonNullable<ReturnType<typeof parseArgv>['tokens']>;
  try {
    tokens = parseArgv({ args: argv, options, strict: true, allowPositionals: false, tokens: true }).tokens ?? [];
  } catch (err) {
    const e = err as { code?: unknown; message: string };
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) throw usageError(e as { code: string; message: string }, keyOf);
    throw err;
  }
  const out: ParsedArgs = { help: false, version: false, configTable: false, open: undefined, file: undefined, flags: {} };
  // Tokens keep the command line's order: a later flag overrides an earlier one (--no-x too).
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (t.name === 'help') out.help = true;
    else if (t.name === 'version') out.version = true;
    else if (t.name === 'print-config-table') out.configTable = true;
    else if (t.name === 'open' || t.name === 'no-open') out.open = t.name === 'open';
    else if (t.name === 'config') out.file = t.value;
    else {
      const hit = keyOf.get(t.name)!;
      out.flags[hit.key] = hit.value ?? t.value ?? '';
    }
  }
  return out;
}

/** The `switchboard` command. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration. */
export async function main(argv: string[]): Promise<void> {
  let args: ParsedArgs;
  let server: SwitchboardServer;
  try {
    args = parseArgs(argv);
    if (args.help) return void process.stdout.write(HELP);
    if (args.version) return void process.stdout.write(`${VERSION}\n`);
    if (args.configTable) return void process.stdout.write(`${configTable()}\n`);
    const config = loadConfig({ flags: args.flags, env: process.env, file: args.file });
    server = new SwitchboardServer(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // A double-click starts the single executable with no arguments: that user wants the dashboard.
  const desktop = args.open ?? (argv.length === 0 && inSea());
  try {
    await server.start();
  } catch (err) {
    server.log.fatal({ err }, `cannot listen on ${server.config.host}:${server.config.port}: ${(err as Error).message}`);
    if (desktop) await keepWindowOpen(`Switchboard could not start: ${(err as Error).message}`);
    process.exit(1);
  }
  onShutdownSignals(server);
  if (desktop) announce(server);
}

/**
 * A console window opened by a double-click closes as soon as the process exits, taking the reason
 * with it (a second double-click: the port is taken). On a terminal, wait for Enter first.
 */
async function keepWindowOpen(why: string): Promise<void> {
  if (!process.stdin.isTTY) return;
  process.stderr.write(`\n${why}\nPress Enter to close this window.\n`);
  await new Promise((resolve) => process.stdin.once('data', resolve));
}

/** Prints where to go (on stderr: stdout stays JSON log lines) and opens the dashboard in the browser. */
function announce(server: SwitchboardServer): void {
  const { host, port } = server.address();
  const base = localBaseUrl(host, port);
  process.stderr.write(
    `\nSwitchboard ${VERSION} is running.\n` +
      `  Dashboard  ${base}/dashboard\n  Demo       ${base}/demo\n  Health     ${base}/health\n` +
      `  Signaling  ${base.replace(/^http/, 'ws')}/v1\n` +
      `Stop it with Ctrl-C (or close this window).\n\n`,
  );
  openInBrowser(`${base}/dashboard`, server.log);
}

/**
 * After the first SIGTERM/SIGINT the process exits at the latest this long after the drain window,
 * whatever still runs (a log destination that never drains, a backplane that never answers). It
 * covers the close guard (2 s) and the backplane's stop, and leaves time to flush the log.
 */
export const SHUTDOWN_DEADLINE_MS = 5_000;

/**
 * First SIGTERM/SIGINT: drain, flush the log, exit 0 (1 if the stop failed). A real, unref'd timer
 * started at the signal exits regardless at drainTimeoutMs + SHUTDOWN_DEADLINE_MS (0 if the stop had
 * completed and only the log flush was pending, 1 otherwise). A second signal exits at once (1).
 * Nothing on the way out can block the event loop: the log never writes synchronously to a pipe.
 */
function onShutdownSignals(server: SwitchboardServer): void {
  let signals = 0;
  let stopped = false;
  const exit = (code: number) => server.log.flush(() => process.exit(code));
  const shutdown = (sig: string) => {
    signals++;
    if (signals > 1) {
      server.log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(1);
    }
    const deadlineMs = server.config.drainTimeoutMs + SHUTDOWN_DEADLINE_MS;
    setTimeout(() => {
      server.log.error({ deadlineMs, stopped }, 'shutdown deadline passed: exiting');
      process.exit(stopped ? 0 : 1);
    }, deadlineMs).unref();
    server.log.info({ signal: sig, deadlineMs }, 'shutting down');
    server.stop().then(
      () => {
        stopped = true;
        exit(0);
      },
      (err) => {
        server.log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
