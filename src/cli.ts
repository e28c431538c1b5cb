import { configLeaves, configTable, ConfigError, loadConfig } from './config.js';
import { SwitchboardServer } from './server/server.js';
import { VERSION } from './version.js';

const HELP = `switchboard ${VERSION} — WebRTC signaling server

Usage: switchboard [options]

  -p, --port <n>        port to listen on (default 8765; env PORT)
  -H, --host <addr>     address to listen on (default 0.0.0.0; env HOST)
  -c, --config <file>   JSON config file (env SWITCHBOARD_CONFIG)
  -l, --log-level <l>   trace|debug|info|warn|error|fatal|silent
  -h, --help            this text
  -v, --version         print the version

Every setting also has a flag and an environment variable:

${configLeaves()
  .map((l) => `  ${l.flag.padEnd(32)} ${l.env}`)
  .join('\n')}

Precedence: defaults < config file < environment < flags. See README.md and docs/.
Endpoints: ws://HOST:PORT/v1 (native protocol), GET /health, /ready, /metrics.
`;

const SHORT: Record<string, string> = { '-p': '--port', '-H': '--host', '-c': '--config', '-l': '--log-level' };

export interface ParsedArgs {
  help: boolean;
  version: boolean;
  configTable: boolean;
  file: string | undefined;
  flags: Record<string, string>;
}

/** Parses `--flag value` and `--flag=value`; unknown flags are a usage error (ConfigError). */
export function parseArgs(argv: string[]): ParsedArgs {
  const byFlag = new Map(configLeaves().map((l) => [l.flag, l.key]));
  const out: ParsedArgs = { help: false, version: false, configTable: false, file: undefined, flags: {} };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    arg = SHORT[arg] ?? arg;
    if (arg === '--help') out.help = true;
    else if (arg === '--version') out.version = true;
    else if (arg === '-h') out.help = true;
    else if (arg === '-v') out.version = true;
    else if (arg === '--print-config-table') out.configTable = true;
    else {
      const key = arg === '--config' ? 'config' : byFlag.get(arg);
      if (!key) throw new ConfigError(arg, 'unknown option (see --help)');
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new ConfigError(key, `${arg} needs a value`);
      }
      if (key === 'config') out.file = value;
      else out.flags[key] = value;
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
  try {
    await server.start();
  } catch (err) {
    server.log.fatal({ err }, `cannot listen on ${server.config.host}:${server.config.port}: ${(err as Error).message}`);
    process.exit(1);
  }
  onShutdownSignals(server);
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
