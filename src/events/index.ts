/** Progress events on NATS: a convenience for watchers, never a dependency of a job. */

export * from './types';
export { connectEventBus, NullEventBus, NatsEventBus } from './bus';
export { NATS_CONNECTION_DEFAULTS, NatsConnectError, openNats, type OpenNatsOptions } from './connect';
export {
  NATS_AUTH_ENV,
  natsTarget,
  redactNatsUrl,
  scrubNatsSecrets,
  type NatsAuth,
  type NatsTarget,
} from './auth';
export type { EventBus, EventBusOptions } from './bus';
export { subscribeProgress } from './subscribe';
export type { Subscription, SubscribeOptions } from './subscribe';
