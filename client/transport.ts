/**
 * Transports: Connect clients over `fetch` (browsers and Deno alike) for the committee's sidecars
 * and for the aggregator backend.
 *
 * @module
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { Committee, Validator } from "./committee.ts";
import { type Client, FastPayAggregator, FastPaySidecar, type Interceptor } from "./deps.ts";

/**
 * A Connect client of a validator's sidecar: one async method per RPC of the `FastPaySidecar`
 * service of `@allegro/proto` (`submitFastPay`, `getBulletinBoard`, `getLane`, …), each taking
 * the request message's init shape and call options (`timeoutMs`, `signal`).
 */
export type SidecarClient = Client<typeof FastPaySidecar>;

/**
 * A Connect client of the aggregator backend: one async method per RPC of the
 * `FastPayAggregator` service of `@allegro/proto` (`submitFastPay`, `getTxStatus`, and the
 * `watchTx` and `watchHeads` streams as async iterables, …).
 */
export type BackendClient = Client<typeof FastPayAggregator>;

/** A sidecar of the committee and the client that reaches it. */
export interface SidecarConnection {
  /** The committee member. */
  readonly validator: Validator;
  /** A client of its sidecar at {@linkcode Validator.endpoint}. */
  readonly client: SidecarClient;
}

/** Transport settings shared by {@linkcode connectSidecars} and {@linkcode connectBackend}. */
export interface TransportOptions {
  /** A `fetch` to use instead of the global one (credentials, proxies, tests). */
  readonly fetch?: typeof globalThis.fetch;
  /** Connect interceptors (headers, logging). */
  readonly interceptors?: Interceptor[];
  /** Protobuf binary on the wire (default) or JSON (`false`, easier to read in devtools). */
  readonly binary?: boolean;
}

function transport(baseUrl: string, options: TransportOptions) {
  return createConnectTransport({
    baseUrl,
    useBinaryFormat: options.binary ?? true,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.interceptors ? { interceptors: options.interceptors } : {}),
  });
}

/**
 * Connect clients for every committee member's sidecar, over `fetch`, in committee order.
 *
 * @example
 * ```ts
 * import { connectSidecars } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee } = testCommittee(4);
 * const sidecars = connectSidecars(committee); // nothing is contacted before a call
 * console.log(sidecars.map((s) => s.validator.endpoint)[0]); // http://127.0.0.1:7000
 * // const info = await sidecars[0].client.getValidatorInfo({});
 * ```
 */
export function connectSidecars(
  committee: Committee,
  options: TransportOptions = {},
): SidecarConnection[] {
  return committee.validators.map((validator) => ({
    validator,
    client: createClient(FastPaySidecar, transport(validator.endpoint, options)),
  }));
}

/**
 * A Connect client for the aggregator backend's `FastPayAggregator` service at `url`.
 *
 * @example
 * ```ts
 * import { connectBackend } from "@allegro/client";
 *
 * const backend = connectBackend("http://127.0.0.1:8080");
 * // const head = await backend.getChainHead({});
 * ```
 */
export function connectBackend(
  url: string,
  options: TransportOptions = {},
): BackendClient {
  return createClient(FastPayAggregator, transport(url, options));
}
