/**
 * The types of the client's dependencies that its API names: viem's (`Address`, `Hex`,
 * `PublicClient`, …), Connect's and protobuf-es's, and the two service descriptors of
 * `@allegro/proto`, whose types name every message of both services. Client modules take them
 * from here. They are their packages' to document, so they are marked `@internal`:
 * `deno doc --lint` would otherwise check their declarations as if they were this package's
 * (denoland/deno#27364), which the npm ones cannot pass (viem's `Address` has no JSDoc;
 * protobuf-es's `MessageInitShape` refers to types protobuf-es does not export). Import them
 * from their packages.
 *
 * @module
 */

/** @internal */
export type {
  Address,
  Hex,
  LocalAccount,
  Log,
  PublicClient,
  TransactionReceipt,
  TypedDataDefinition,
} from "viem";
/** @internal */
export type { Client, Interceptor } from "@connectrpc/connect";
/** @internal */
export type { MessageInitShape } from "@bufbuild/protobuf";
/** @internal */
export { FastPayAggregator, FastPaySidecar } from "@allegro/proto";
