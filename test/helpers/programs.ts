import { spawnSync } from 'node:child_process';

/**
 * Whether a system program runs (`cmd ...args` exits 0). When it does not, the tests that need it
 * skip loudly: the returned skip reason names the apt package, and a banner says so on stderr.
 * Returns false (do not skip) when it runs.
 */
export function needProgram(cmd: string, args: string[], aptPackage: string, what: string): false | string {
  if (spawnSync(cmd, args, { stdio: 'ignore' }).status === 0) return false;
  process.stderr.write(`\n*** SKIPPING ${what}: ${cmd} is not on PATH. Install it with \`apt-get install ${aptPackage}\`. ***\n\n`);
  return `${cmd} not found on PATH: install the apt package \`${aptPackage}\` (.ci/run does)`;
}
