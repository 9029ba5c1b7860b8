/**
 * Transports: Connect clients over `fetch` (browsers and Deno alike) for the committee's sidecars
 * and for the aggregator backend.
 *
 * @module
 */
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { FastPayAggregator, FastPaySidecar } from "@allegro/proto";
import type { Committee, Validator } from "./committee.ts";

/** A sidecar of the committee and the client that reaches it. */
export interface SidecarConnection {
  readonly validator: Validator;
  readonly client: Client<typeof FastPaySidecar>;
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
 * import { connectSidecars, parseCommittee } from "@allegro/client";
 *
 * const committee = parseCommittee({ chain_id: 1337, epoch: 1, validators: [
 *   { name: "dave", pubkey: "11".repeat(32), endpoint: "http://127.0.0.1:7001" },
 * ] });
 * const [dave] = connectSidecars(committee);
 * // await dave.client.getValidatorInfo({});
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
): Client<typeof FastPayAggregator> {
  return createClient(FastPayAggregator, transport(url, options));
}
