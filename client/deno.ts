/**
 * `@allegro/client/deno`: the part of the client that needs Deno APIs and so is kept out of the
 * browser surface of `@allegro/client` — the Deno KV `WalletStore` that lets a wallet's lanes
 * survive restarts.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { Wallet } from "@allegro/client";
 * import { KvWalletStore } from "@allegro/client/deno";
 *
 * const path = await Deno.makeTempFile({ suffix: ".kv" });
 * {
 *   using store = await KvWalletStore.open(path);
 *   const wallet = new Wallet(
 *     privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"),
 *     { store },
 *   );
 *   console.log(await wallet.lane("0x20c0000000000000000000000000000000000000")); // undefined
 * }
 * await Deno.remove(path);
 * ```
 *
 * @module
 */
export * from "./kv_wallet_store.ts";
// The client types a store holds, so that this entry's documentation stands alone.
export type { LaneOrder, LaneRecord, WalletStore } from "./wallet.ts";
export type { PaymentOrder, SignedOrder } from "./order.ts";
export type { QuorumCertificate } from "./quorum.ts";
export type { Certificate } from "./certificate.ts";
