/**
 * `@allegro/client`: the protocol core shared by every Allegro component, in Deno and browsers —
 * payment orders (EIP-712, `tx_hash`, `effects_hash`), canonical signatures, certificates with
 * settlement attestations, committees and quorum certificates (SPEC §4), the vault's calls,
 * reads and events (SPEC §5), and the payer's side: a wallet that keeps each lane's seq and QCs,
 * transports to the sidecars and the backend, the fan-out, and {@linkcode AllegroClient}
 * (`pay`, `watch`, `incoming`, `settle`). Wallets keep their lanes in memory, in IndexedDB
 * (browsers) or in Deno KV (`@allegro/client/deno`).
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from "viem/accounts";
 * import { NO_PARENT, orderTxHash, signOrder, verifySignedOrder } from "@allegro/client";
 *
 * const alice = privateKeyToAccount(
 *   "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
 * );
 * const signed = await signOrder(alice, {
 *   chainId: 1337n,
 *   vault: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
 *   payer: alice.address,
 *   recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
 *   token: "0x20c0000000000000000000000000000000000000",
 *   amount: 10_000_000n,
 *   fee: 0n,
 *   seq: 0n,
 *   validBefore: 1_900_000_000_000n,
 *   parent: NO_PARENT,
 *   exit: false,
 *   memo: NO_PARENT,
 * });
 * await verifySignedOrder(signed); // what every sidecar checks first
 * console.log(orderTxHash(signed.order).length); // 32
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./bytes.ts";
export * from "./encoding.ts";
export * from "./hashes.ts";
export * from "./signature.ts";
export * from "./order.ts";
export * from "./attestation.ts";
export * from "./ed25519.ts";
export * from "./committee.ts";
export * from "./certificate.ts";
export * from "./quorum.ts";
export * from "./certified.ts";
export * from "./wire.ts";
export * from "./board.ts";
export * from "./tempo_tx.ts";
export * from "./vault.ts";
export * from "./settle.ts";
export * from "./transport.ts";
export * from "./fanout.ts";
export * from "./wallet.ts";
export * from "./idb_wallet_store.ts";
export * from "./lane_sync.ts";
export * from "./incoming.ts";
export * from "./watch.ts";
export * from "./allegro_client.ts";
// The wire messages of `@allegro/proto` that the client's API takes and returns; the five whose
// names the client's own types have carry a `Message` suffix here.
export type {
  BulletinEntry,
  CertifiedOrder as CertifiedOrderMessage,
  CertifiedOrderSchema,
  PaymentOrder as PaymentOrderMessage,
  PaymentOrderSchema,
  QuorumCertificate as QuorumCertificateMessage,
  QuorumCertificateSchema,
  RejectCode as RejectCodeMessage,
  SignedOrder as SignedOrderMessage,
  SignedOrderSchema,
  SubmitFastPayRequest,
  SubmitFastPayRequestSchema,
  ValidatorCertificate,
} from "@allegro/proto";
