/**
 * `@allegro/client/testing`: fixtures for the tests of code built on the client — a committee of
 * deterministic validator keys (Ed25519 and settlement) and their signers. Not part of
 * `@allegro/client` itself.
 *
 * @module
 */
import { bytesToHex, toHex } from "viem";
import type { Address, Hex } from "./deps.ts";
import { CertificateSigner } from "./certificate.ts";
import { type Committee, parseCommittee } from "./committee.ts";

// The client types this entry's API names, so that its documentation stands alone.
export type { Certificate, CertificateSigner } from "./certificate.ts";
export type { Committee, Validator } from "./committee.ts";

/** The vault address of {@linkcode testCommittee} unless another is given. */
export const TEST_VAULT: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

/**
 * The settlement key of test validator `i`: `[i+1; 32]` with its last byte 0xa0 + i, so it never
 * equals the Ed25519 seed.
 *
 * @example
 * ```ts
 * import { testSettlementKey } from "@allegro/client/testing";
 *
 * console.log(testSettlementKey(0).length); // 66
 * ```
 */
export function testSettlementKey(i: number): Hex {
  const key = new Uint8Array(32).fill(i + 1);
  key[31] = 0xa0 + i;
  return toHex(key);
}

/**
 * A committee of `n` validators with Ed25519 seeds `[i+1; 32]` and settlement keys
 * {@linkcode testSettlementKey}`(i)`, and their signers.
 *
 * @example
 * ```ts
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = testCommittee(4);
 * console.log(committee.threshold, signers.length); // 3 4
 * ```
 */
export function testCommittee(
  n: number,
  scope: { chainId: bigint; epoch: bigint; vault?: Address } = { chainId: 1337n, epoch: 42n },
): { committee: Committee; signers: CertificateSigner[] } {
  const signers = Array.from(
    { length: n },
    (_, i) => CertificateSigner.create(new Uint8Array(32).fill(i + 1), testSettlementKey(i), scope),
  );
  const committee = parseCommittee({
    chain_id: scope.chainId.toString(),
    epoch: scope.epoch.toString(),
    vault: scope.vault ?? TEST_VAULT,
    validators: signers.map((s, i) => ({
      name: `v${i}`,
      pubkey: bytesToHex(s.publicKey),
      settlement_address: s.settlementAddress,
      endpoint: `http://127.0.0.1:${7000 + i}`,
    })),
  });
  return { committee, signers };
}
