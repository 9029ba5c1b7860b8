/**
 * `@allegro/client`: the protocol core shared by every Allegro component, in Deno and browsers —
 * canonical hashes (SPEC §4), Ed25519 certificates, committees and quorum certificates, Tempo
 * payments (build, sign, decode), and the payer's side: a wallet with nonce reservation,
 * transports to sidecars and the backend, the fan-out, and {@linkcode AllegroClient} (`pay`,
 * `watch`, `incoming`). The Deno KV nonce store, which needs Deno APIs, lives in
 * `@allegro/client/deno`; what only servers need (listeners, command lines) is in the workspace's
 * `@allegro/server`.
 *
 * @example
 * ```ts
 * import { certDigest, CertificateSigner, effectsHash, txHash } from "@allegro/client";
 *
 * const signer = await CertificateSigner.create(new Uint8Array(32).fill(1), {
 *   chainId: 1337n,
 *   epoch: 1n,
 * });
 * const tx = txHash({
 *   chainId: 1337n,
 *   tempoTx: new Uint8Array([0x76]),
 *   nonceKey: new Uint8Array(32).fill(0x5b),
 *   nonceSeq: 0n,
 *   expiry: { unixMillis: 1_900_000_000_000n },
 * });
 * const effects = effectsHash({
 *   sender: new Uint8Array(20).fill(1),
 *   recipient: new Uint8Array(20).fill(2),
 *   amount: 10n,
 *   asset: new Uint8Array(20).fill(3),
 *   nonceKey: new Uint8Array(32).fill(0x5b),
 *   nonceSeq: 0n,
 * });
 * const certificate = await signer.sign(tx, effects, BigInt(Date.now()));
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
export * from "./tempo_tx.ts";
export * from "./vault.ts";
export * from "./ed25519.ts";
export * from "./committee.ts";
export * from "./certificate.ts";
export * from "./quorum.ts";
export * from "./tempo.ts";
export * from "./wire.ts";
export * from "./board.ts";
export * from "./transport.ts";
export * from "./fanout.ts";
export * from "./certified.ts";
export * from "./wallet.ts";
export * from "./incoming.ts";
export * from "./watch.ts";
export * from "./allegro_client.ts";
