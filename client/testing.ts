/**
 * `@allegro/client/testing`: fixtures for the tests of code built on the client — a committee of
 * deterministic validator keys and their signers. Not part of `@allegro/client` itself.
 *
 * @module
 */
import { bytesToHex } from "viem";
import { CertificateSigner } from "./certificate.ts";
import { type Committee, parseCommittee } from "./committee.ts";

/**
 * A committee of `n` validators with seeds `[i+1; 32]`, and their signers.
 *
 * @example
 * ```ts
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee, signers } = await testCommittee(4);
 * console.log(committee.validators.length, signers.length); // 4 4
 * ```
 */
export async function testCommittee(
  n: number,
  scope = { chainId: 1337n, epoch: 42n },
): Promise<{ committee: Committee; signers: CertificateSigner[] }> {
  const signers = await Promise.all(
    Array.from(
      { length: n },
      (_, i) => CertificateSigner.create(new Uint8Array(32).fill(i + 1), scope),
    ),
  );
  const committee = parseCommittee({
    chain_id: scope.chainId.toString(),
    epoch: scope.epoch.toString(),
    validators: signers.map((s, i) => ({
      name: `v${i}`,
      pubkey: bytesToHex(s.publicKey),
      endpoint: `http://127.0.0.1:${7000 + i}`,
    })),
  });
  return { committee, signers };
}
