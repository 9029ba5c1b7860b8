/**
 * `@allegro/sidecar/bench`: the pieces of a sidecar the load generator (`bench/`) assembles
 * itself, without the chain follower, gossip or settler — the authority, its driver, the store
 * and the Connect service with its binary `SubmitFastPay` fast path. Not an API for anything else.
 *
 * @module
 */
export { Authority, type Writes } from "./authority.ts";
export { type Answer, Certifier, type SubmissionRequest } from "./certifier.ts";
export { TxEvents } from "./events.ts";
export { SidecarMetrics } from "./metrics.ts";
export { sidecarService, submitFastPath } from "./service.ts";
export { Store } from "./store.ts";
