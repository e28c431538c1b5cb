/** A configuration problem, named by its dotted key (its own module: the security layer throws it without importing the schema). */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`invalid configuration: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}
