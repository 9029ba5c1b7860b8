/**
 * Fixtures for driving {@linkcode Authority} in tests: a configuration with a fake synchronous
 * signer (the authority never checks signatures; its drivers do), orders with their hashes,
 * QCs of the test epoch, blocks of vault events, and a helper that loads every key an authority
 * asks for as empty (a fresh store).
 *
 * @module
 */
import { type Address, bytesToHex, type Hex } from "viem";
import {
  type CertifiedOrder,
  NO_PARENT,
  orderEffectsHash,
  orderTxHash,
  type PaymentOrder,
  type QuorumCertificate,
  type SignedOrder,
  type VaultEvent,
} from "@allegro/client";
import {
  Authority,
  type AuthorityConfig,
  type Block,
  type Decision,
  type Gate,
  type Key,
  type Submission,
} from "./authority.ts";

export const CHAIN_ID = 1337n;
export const VAULT: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
export const TOKEN: Address = "0x20C0000000000000000000000000000000000000";
export const ALICE: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
export const BOB: Address = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
export const CAROL: Address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
/** Chain time of the first test block (ms). */
export const T0 = 1_800_000_000_000n;
export const EPOCH = 1n;
export const W = 60_000n;
export const M = 5_000n;
export const S = 3_000n;

/** A validator id for test authority `i`. */
export function validatorId(i: number): Hex {
  return bytesToHex(new Uint8Array(32).fill(i + 1));
}

/** A configuration whose signer makes recognisable fake certificates for validator `i`. */
export function testConfig(i = 0, overrides: Partial<AuthorityConfig> = {}): AuthorityConfig {
  const signer = new Uint8Array(32).fill(i + 1);
  return {
    chainId: CHAIN_ID,
    vault: VAULT,
    epoch: EPOCH,
    self: validatorId(i),
    maxValidity: W,
    margin: M,
    staleAfter: S,
    maxUnsettledPerLane: 64,
    gossipWindow: 16n,
    boardsToCheck: 2,
    boardsToRecover: 2,
    sign: (txHash, effectsHash, createdUnixMillis) => ({
      signer,
      txHash,
      effectsHash,
      signature: new Uint8Array(64).fill(i + 1),
      attestation: new Uint8Array(65).fill(i + 1),
      createdUnixMillis,
      epoch: EPOCH,
    }),
    ...overrides,
  };
}

/** An authority at chain time `T0` (block 1), epoch {@linkcode EPOCH} current, gate open. */
export function testAuthority(i = 0, overrides: Partial<AuthorityConfig> = {}, gate?: Gate) {
  return new Authority(testConfig(i, overrides), {
    chain: { height: 1n, hash: `0x${"01".repeat(32)}`, time: T0, headerMillis: T0 },
    vault: { epoch: EPOCH, graceEnd: 0n },
    gate: gate ?? { kind: "open" },
  });
}

/** An order of `payer` in {@linkcode TOKEN}, valid 30 s past `T0` unless overridden. */
export function order(fields: Partial<PaymentOrder> & { payer: Address }): PaymentOrder {
  return {
    chainId: CHAIN_ID,
    vault: VAULT,
    recipient: BOB,
    token: TOKEN,
    amount: 1n,
    fee: 0n,
    seq: 0n,
    validBefore: T0 + 30_000n,
    parent: NO_PARENT,
    exit: false,
    memo: NO_PARENT,
    ...fields,
  };
}

/** The order signed (with a dummy signature: the authority does not verify) and hashed. */
export function signed(o: PaymentOrder): SignedOrder & { txHash: Hex; effectsHash: Uint8Array } {
  return {
    order: o,
    signature: `0x${"00".repeat(65)}`,
    txHash: bytesToHex(orderTxHash(o)),
    effectsHash: orderEffectsHash(o),
  };
}

/** A QC of {@linkcode EPOCH} over the order (not a real one: the driver verifies QCs). */
export function certified(o: PaymentOrder): CertifiedOrder {
  const s = signed(o);
  const qc: QuorumCertificate = {
    txHash: orderTxHash(o),
    effectsHash: s.effectsHash,
    threshold: 3,
    certificates: [],
    qcHash: new Uint8Array(32),
    epoch: EPOCH,
  };
  return { signed: { order: o, signature: s.signature }, txHash: s.txHash, qc };
}

/** A submission of `o` with optional lane QCs and parent. */
export function submission(
  o: PaymentOrder,
  extra: Partial<Pick<Submission, "laneQcs" | "parent">> = {},
): Submission {
  const s = signed(o);
  return {
    signed: { order: o, signature: s.signature },
    txHash: s.txHash,
    effectsHash: s.effectsHash,
    laneQcs: extra.laneQcs ?? [],
    ...(extra.parent ? { parent: extra.parent } : {}),
  };
}

/** Loads every key the authority asks for as empty (nothing stored) and retries. */
export function withEmptyStore<T extends { kind: string }>(
  authority: Authority,
  step: () => T,
): Exclude<T, { kind: "need" }> {
  for (let i = 0; i < 10; i++) {
    const result = step();
    if (result.kind !== "need") return result as Exclude<T, { kind: "need" }>;
    for (const key of (result as unknown as { keys: readonly Key[] }).keys) {
      authority.load(key, undefined);
    }
  }
  throw new Error("the authority kept asking for keys");
}

/** Submits at local time `now` (default: just after `T0`), loading what it needs. */
export function submit(
  authority: Authority,
  s: Submission,
  now = T0 + 500n,
): Exclude<Decision, { kind: "need" }> {
  return withEmptyStore(authority, () => authority.handle(s, now));
}

/** A vault event without its place in the chain (tests do not need it). */
export type TestEvent = DistributiveOmit<
  VaultEvent,
  "blockNumber" | "logIndex" | "transactionHash"
>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const PLACE = { blockNumber: 0n, logIndex: 0, transactionHash: `0x${"00".repeat(32)}` as Hex };

/** Applies a block of `events` at `height`, chain time `time`, processed at local time `now`. */
export function applyBlock(
  authority: Authority,
  height: bigint,
  events: TestEvent[],
  time = T0 + (height - 1n) * 1000n,
  now = time + 200n,
) {
  const block: Block = {
    height,
    hash: `0x${height.toString(16).padStart(64, "0")}`,
    time,
    headerMillis: time,
    events: events.map((e) => ({ ...PLACE, ...e }) as VaultEvent),
  };
  return withEmptyStore(authority, () => authority.apply(block, now));
}

/** A `Deposited` event. */
export function deposited(account: Address, amount: bigint, token: Address = TOKEN): TestEvent {
  return { kind: "Deposited", account, token, from: account, amount };
}

/** The `Settled` event of `o`, settled by `settler`. */
export function settled(o: PaymentOrder, settler: Address = CAROL): TestEvent {
  return {
    kind: "Settled",
    payer: o.payer,
    recipient: o.recipient,
    txHash: bytesToHex(orderTxHash(o)),
    token: o.token,
    seq: o.seq,
    amount: o.amount,
    fee: o.fee,
    validBefore: o.validBefore,
    exit: o.exit,
    parent: o.parent,
    settler,
  };
}
