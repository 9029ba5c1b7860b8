/**
 * The committee of SPEC §4: chain id, epoch, the vault, and the validators (name, Ed25519 public
 * key, settlement address, sidecar endpoint). A validator's id is its public key; its position
 * in the file is its index in the vault's committee. `n` validators tolerate `f = floor((n-1)/3)`
 * faults and a QC needs `n - f` certificates.
 *
 * @module
 */
import { bytesToHex, getAddress, hexToBytes, isAddress, isHex } from "viem";
import type { Address } from "./deps.ts";
import { AllegroError } from "./errors.ts";

/** One committee member. */
export interface Validator {
  /** Its name in the committee file (unique), for logs and messages. */
  readonly name: string;
  /** Ed25519 public key, 32 bytes: the validator id. */
  readonly publicKey: Uint8Array;
  /** The address of its secp256k1 settlement key: what the vault checks attestations against. */
  readonly settlementAddress: Address;
  /** URL of its sidecar. */
  readonly endpoint: string;
}

/** A validated committee with its fault tolerance and QC threshold. */
export interface Committee {
  /** The chain the vault lives on. */
  readonly chainId: bigint;
  /** The epoch whose committee this is; certificates sign it into `cert_digest`. */
  readonly epoch: bigint;
  /** The vault the committee certifies orders for. */
  readonly vault: Address;
  /** The members in file order, which is their index in the vault's committee. */
  readonly validators: readonly Validator[];
  /** `floor((n - 1) / 3)`. */
  readonly faultTolerance: number;
  /** `n - f`. */
  readonly threshold: number;
  /** The member with this public key, if any. */
  member(publicKey: Uint8Array): Validator | undefined;
  /** The member's position (its index in the vault's committee), or -1. */
  indexOf(publicKey: Uint8Array): number;
}

/**
 * The QC threshold for `n` validators: `n - floor((n - 1) / 3)` (2 of 2, 3 of 4, 5 of 7).
 *
 * @example
 * ```ts
 * import { quorumThreshold } from "@allegro/client";
 *
 * quorumThreshold(4); // 3
 * ```
 */
export function quorumThreshold(n: number): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new AllegroError(
      "INVALID_FORMAT",
      `validator count must be a positive integer, got ${n}`,
    );
  }
  return n - Math.floor((n - 1) / 3);
}

const fail = (message: string, field: string): never => {
  throw new AllegroError("INVALID_FORMAT", `committee: ${message}`, { field });
};

function u64Field(field: string, value: unknown): bigint {
  const ok = (typeof value === "number" && Number.isSafeInteger(value)) ||
    (typeof value === "string" && /^[0-9]+$/.test(value));
  const v = ok ? BigInt(value as number | string) : -1n;
  if (v < 0n || v >= 1n << 64n) fail(`${field} must be a u64, got ${JSON.stringify(value)}`, field);
  return v;
}

function addressField(field: string, value: unknown): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    fail(`${field} must be a 20-byte address, got ${JSON.stringify(value)}`, field);
  }
  return getAddress(value as string);
}

function validatorField(raw: unknown, i: number): Validator {
  const at = `validators[${i}]`;
  if (typeof raw !== "object" || raw === null) fail(`${at} must be an object`, at);
  const { name, pubkey, settlement_address, endpoint } = raw as Record<string, unknown>;
  if (typeof name !== "string" || name.trim() === "") {
    fail(`${at}.name must be a non-empty string, got ${JSON.stringify(name)}`, `${at}.name`);
  }
  const hex = typeof pubkey === "string" && !pubkey.startsWith("0x") ? `0x${pubkey}` : pubkey;
  if (typeof hex !== "string" || !isHex(hex, { strict: true }) || hex.length !== 66) {
    fail(`${at}.pubkey must be 32 bytes of hex, got ${JSON.stringify(pubkey)}`, `${at}.pubkey`);
  }
  if (typeof endpoint !== "string" || !URL.canParse(endpoint)) {
    fail(`${at}.endpoint must be a URL, got ${JSON.stringify(endpoint)}`, `${at}.endpoint`);
  }
  return {
    name: name as string,
    publicKey: hexToBytes(hex as `0x${string}`),
    settlementAddress: addressField(`${at}.settlement_address`, settlement_address),
    endpoint: endpoint as string,
  };
}

/**
 * Validates a committee document (`{ chain_id, epoch, vault, validators: [{ name, pubkey,
 * settlement_address, endpoint }] }`, integers as JSON numbers or decimal strings, `pubkey` as
 * hex with or without `0x`). Throws an `INVALID_FORMAT` {@linkcode AllegroError} naming the
 * offending field.
 *
 * @example
 * ```ts
 * import { parseCommittee } from "@allegro/client";
 *
 * const committee = parseCommittee({
 *   chain_id: 1337,
 *   epoch: 1,
 *   vault: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
 *   validators: [{
 *     name: "dave",
 *     pubkey: "11".repeat(32),
 *     settlement_address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *     endpoint: "http://127.0.0.1:7001",
 *   }, {
 *     name: "edgar",
 *     pubkey: "22".repeat(32),
 *     settlement_address: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
 *     endpoint: "http://127.0.0.1:7002",
 *   }],
 * });
 * console.log(committee.threshold); // 2
 * ```
 */
export function parseCommittee(doc: unknown): Committee {
  if (typeof doc !== "object" || doc === null) fail("must be a JSON object", "committee");
  const { chain_id, epoch, vault, validators } = doc as Record<string, unknown>;
  const chainId = u64Field("chain_id", chain_id);
  const epochValue = u64Field("epoch", epoch);
  const vaultAddress = addressField("vault", vault);
  if (!Array.isArray(validators) || validators.length === 0) {
    fail("validators must be a non-empty array", "validators");
  }
  const members = (validators as unknown[]).map(validatorField);
  const byId = new Map<string, number>();
  const names = new Set<string>();
  const settlement = new Set<string>();
  for (const [i, v] of members.entries()) {
    const id = bytesToHex(v.publicKey);
    if (byId.has(id)) {
      fail(`validators[${i}].pubkey ${id} appears twice`, `validators[${i}].pubkey`);
    }
    if (names.has(v.name)) {
      fail(`validators[${i}].name ${v.name} appears twice`, `validators[${i}].name`);
    }
    if (settlement.has(v.settlementAddress)) {
      fail(
        `validators[${i}].settlement_address ${v.settlementAddress} appears twice`,
        `validators[${i}].settlement_address`,
      );
    }
    byId.set(id, i);
    names.add(v.name);
    settlement.add(v.settlementAddress);
  }
  const n = members.length;
  return {
    chainId,
    epoch: epochValue,
    vault: vaultAddress,
    validators: members,
    faultTolerance: Math.floor((n - 1) / 3),
    threshold: quorumThreshold(n),
    member: (publicKey) => members[byId.get(bytesToHex(publicKey)) ?? -1],
    indexOf: (publicKey) => byId.get(bytesToHex(publicKey)) ?? -1,
  };
}

/**
 * Fetches and validates a committee file: any URL `fetch` can read (`file:` in Deno, `http(s):`
 * everywhere).
 *
 * @example
 * ```ts
 * import { committeeToJson, loadCommittee } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, JSON.stringify(committeeToJson(testCommittee(4).committee)));
 * const committee = await loadCommittee(new URL(`file://${path}`));
 * console.log(committee.validators.length, committee.threshold); // 4 3
 * await Deno.remove(path);
 * ```
 */
export async function loadCommittee(url: string | URL): Promise<Committee> {
  const response = await fetch(url);
  if (!response.ok) fail(`cannot read ${url}: HTTP ${response.status}`, "committee");
  let doc: unknown;
  try {
    doc = await response.json();
  } catch (e) {
    fail(`${url} is not JSON: ${(e as Error).message}`, "committee");
  }
  return parseCommittee(doc);
}

/**
 * The committee as a JSON document that {@linkcode parseCommittee} reads back.
 *
 * @example
 * ```ts
 * import { committeeToJson, parseCommittee } from "@allegro/client";
 *
 * const doc = {
 *   chain_id: 1337,
 *   epoch: 1,
 *   vault: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
 *   validators: [{
 *     name: "dave",
 *     pubkey: "11".repeat(32),
 *     settlement_address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
 *     endpoint: "http://127.0.0.1:7001",
 *   }],
 * };
 * const text = JSON.stringify(committeeToJson(parseCommittee(doc)));
 * ```
 */
export function committeeToJson(committee: Committee): Record<string, unknown> {
  return {
    chain_id: committee.chainId.toString(),
    epoch: committee.epoch.toString(),
    vault: committee.vault,
    validators: committee.validators.map((v) => ({
      name: v.name,
      pubkey: bytesToHex(v.publicKey).slice(2),
      settlement_address: v.settlementAddress,
      endpoint: v.endpoint,
    })),
  };
}

/**
 * Why `committee` is not the one the vault registered for its epoch, or `undefined` when it is:
 * the same settlement addresses in the same order and the same threshold (SPEC §4). Sidecars,
 * the backend and the client refuse to run on a mismatch. `registered` comes from the vault's
 * `committee(epoch)` view (`readCommittee`).
 *
 * @example
 * ```ts
 * import { committeeMismatch } from "@allegro/client";
 * import { testCommittee } from "@allegro/client/testing";
 *
 * const { committee } = testCommittee(4);
 * // What readCommittee(client, committee.vault, committee.epoch) returns from the vault:
 * const members = committee.validators.map((v) => v.settlementAddress);
 * console.log(committeeMismatch(committee, { members, threshold: 3 })); // undefined
 * console.log(committeeMismatch(committee, { members: members.slice(1), threshold: 3 }));
 * // epoch 42: the committee file has 4 validators, the vault 3
 * ```
 */
export function committeeMismatch(
  committee: Committee,
  registered: { members: readonly Address[]; threshold: number },
): string | undefined {
  const ours = committee.validators.map((v) => v.settlementAddress);
  if (registered.members.length === 0) {
    return `the vault ${committee.vault} has no committee for epoch ${committee.epoch}`;
  }
  if (ours.length !== registered.members.length) {
    return `epoch ${committee.epoch}: the committee file has ${ours.length} validators, the vault ${registered.members.length}`;
  }
  const at = ours.findIndex((a, i) => getAddress(registered.members[i]) !== a);
  if (at >= 0) {
    return `epoch ${committee.epoch}: validators[${at}].settlement_address is ${
      ours[at]
    }, the vault has ${registered.members[at]} there`;
  }
  if (registered.threshold !== committee.threshold) {
    return `epoch ${committee.epoch}: threshold ${committee.threshold} differs from the vault's ${registered.threshold}`;
  }
  return undefined;
}
