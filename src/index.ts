/** Library entry: embed Switchboard in an existing Node application. */
export {
  attach,
  createServer,
  SwitchboardServer,
  type AttachOptions,
  type RequestHandler,
  type ServerDeps,
  type ServerState,
  type StartOptions,
  type UpgradeHandler,
} from './server/server.js';
export { loadConfig, validateConfig, defaultConfig, ConfigSchema, ConfigError, type Config, type DeepPartial } from './config.js';
export { Hub, type HubConfig, type HubObserver } from './core/hub.js';
export { ManualClock, systemClock, type Clock, type Timer } from './core/clock.js';
export { HubError, ERROR_CODES, type ErrorCode } from './core/errors.js';
export type { Backplane, Envelope, Handoff } from './core/backplane.js';
export { MemoryBackplane } from './backplane/memory.js';
export type { Dialect, DialectHandler, Conn } from './dialects/dialect.js';
export { nativeDialect } from './dialects/native/native.js';
export { VERSION } from './version.js';
