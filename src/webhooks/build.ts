import type { Config } from '../config.js';
import type { Clock } from '../core/clock.js';
import type { CoreLogger } from '../core/session.js';
import { MemoryQueue } from './queue.js';
import { RedisQueue } from './redis-queue.js';
import { Webhooks, type WebhookObserver } from './webhooks.js';

/** Lifecycle webhooks from config: undefined when webhooks.url is empty; a cluster-wide queue with Redis. */
export function buildWebhooks(config: Config, deps: { clock: Clock; log: CoreLogger; observer?: WebhookObserver; version: string }): Webhooks | undefined {
  const { url, secret, timeoutMs, maxAttempts, maxQueue } = config.webhooks;
  if (url === '') return undefined;
  const queue = config.redis.url
    ? new RedisQueue({ url: config.redis.url, cluster: config.redis.cluster, nodes: config.redis.nodes, prefix: config.redis.prefix, maxQueue, leadMs: config.redis.presenceTtlMs, log: deps.log })
    : new MemoryQueue(maxQueue);
  return new Webhooks({ url, secret, timeoutMs, maxAttempts, queue, clock: deps.clock, log: deps.log, observer: deps.observer, version: deps.version });
}
