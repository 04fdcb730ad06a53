/** Progress events on NATS: a convenience for watchers, never a dependency of a job. */

export * from './types';
export { connectEventBus, NullEventBus, NatsEventBus, NATS_CONNECTION_DEFAULTS } from './bus';
export type { EventBus, EventBusOptions } from './bus';
export { subscribeProgress } from './subscribe';
export type { Subscription, SubscribeOptions } from './subscribe';
