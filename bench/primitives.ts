/**
 * The cost of each building block of a certification on this machine, measured alone: sender
 * recovery (libsecp256k1 via FFI, as WebAssembly, pure JS), Ed25519 sign and verify, decoding a
 * payment, and a durable Deno KV commit of a batch of certifications in the sidecar's key
 * layout. Their sum bounds what one core can certify; `BENCHMARKS.md` uses it to show the limits.
 *
 * @module
 */
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "viem";
import { Secp256k1 } from "viem/tempo";
import { decodePayment, ed25519, useSecp256k1Recovery } from "@allegro/client";
import { ffiSecp256k1, type NativeSecp256k1, wasmSecp256k1 } from "@allegro/sidecar/secp256k1";
import { Store } from "@allegro/sidecar/store";
import type { PendingTx } from "@allegro/sidecar/ledger";
import { CHAIN_ID } from "./isolated.ts";
import { benchAccounts, Lanes, payloadSigner, singlePayments } from "./payments.ts";

/** One measured primitive. */
export interface PrimitiveCost {
  readonly name: string;
  /** Microseconds of wall time per operation (the process does nothing else meanwhile). */
  readonly micros: number;
  readonly note?: string;
}

/** Median of `rounds` timings of `n` calls of `f`, in µs per call. */
async function time(n: number, f: (i: number) => unknown, rounds = 5): Promise<number> {
  for (let i = 0; i < Math.min(n, 200); i++) await f(i);
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    for (let i = 0; i < n; i++) await f(i);
    results.push((performance.now() - started) * 1000 / n);
  }
  results.sort((a, b) => a - b);
  return Math.round(results[Math.floor(rounds / 2)] * 10) / 10;
}

/** Measures every primitive; takes a few seconds. */
export async function measurePrimitives(dir: string): Promise<PrimitiveCost[]> {
  const out: PrimitiveCost[] = [];
  const signer = await payloadSigner();
  const plan = {
    chainId: CHAIN_ID,
    validBefore: BigInt(Math.floor(Date.now() / 1000)) + 1800n,
    recipient: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" as const,
    amount: 1_000_000n,
  };
  const payments = singlePayments(
    signer,
    benchAccounts("primitives", 200),
    plan,
    2000,
    new Lanes(),
  );

  // Sender recovery alone, per backend.
  const cases = Array.from({ length: 200 }, () => {
    const payload = crypto.getRandomValues(new Uint8Array(32));
    const s = Secp256k1.sign({
      payload,
      privateKey: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
    });
    const rs = new Uint8Array(64);
    rs.set(hexToBytes(`0x${s.r.toString(16).padStart(64, "0")}`));
    rs.set(hexToBytes(`0x${s.s.toString(16).padStart(64, "0")}`), 32);
    return { payload, s, rs };
  });
  const natives: NativeSecp256k1[] = [];
  const ffi = ffiSecp256k1();
  if (ffi) natives.push(ffi);
  const wasm = await wasmSecp256k1();
  if (wasm) natives.push(wasm);
  for (const n of natives) {
    out.push({
      name: `secp256k1 recovery (${n.name})`,
      micros: await time(2000, (i) => {
        const c = cases[i % 200];
        n.recover(c.payload, c.rs, c.s.yParity as 0 | 1);
      }),
    });
  }
  out.push({
    name: "secp256k1 recovery (js: noble via ox)",
    micros: await time(300, (i) => {
      const c = cases[i % 200];
      Secp256k1.recoverPublicKey({ payload: c.payload, signature: c.s });
    }),
  });

  // Decoding a signed payment (everything decodePayment does), per recovery backend.
  const previous = useSecp256k1Recovery(undefined);
  try {
    for (const n of [...natives, undefined]) {
      out.push({
        name: `decodePayment (${n?.name ?? "js"} recovery)`,
        micros: await time(n ? 2000 : 300, (i) => {
          // Installing the recovery empties decodePayment's memo: every decode below is fresh.
          if (i === 0) useSecp256k1Recovery(n);
          decodePayment(payments[i].request.signedTx, { chainId: CHAIN_ID });
        }),
        note: "a fresh decode (its memo emptied)",
      });
    }
  } finally {
    useSecp256k1Recovery(previous);
  }

  // Ed25519 (node:crypto where available).
  const backend = await ed25519();
  const seed = new Uint8Array(32).fill(1);
  const message = new Uint8Array(32).fill(2);
  const signature = await backend.sign(seed, message);
  const publicKey = await backend.getPublicKey(seed);
  out.push({
    name: `Ed25519 sign (${backend.name})`,
    micros: await time(5000, () => backend.sign(seed, message)),
  });
  out.push({
    name: `Ed25519 verify (${backend.name})`,
    micros: await time(5000, () => backend.verify(signature, message, publicKey)),
  });

  // Durable Deno KV group commits in the sidecar's layout, on a database of 20,000 entries.
  const store = await Store.open(join(dir, "primitives.kv"), { maxBatch: 96 });
  try {
    let n = 0;
    const write = () => {
      n++;
      const txHash = crypto.getRandomValues(new Uint8Array(32));
      const nonceKey = crypto.getRandomValues(new Uint8Array(32));
      const sender = bytesToHex(crypto.getRandomValues(new Uint8Array(20)));
      const recipient = bytesToHex(crypto.getRandomValues(new Uint8Array(20)));
      const certificate = {
        signer: new Uint8Array(32).fill(1),
        txHash,
        effectsHash: crypto.getRandomValues(new Uint8Array(32)),
        signature: crypto.getRandomValues(new Uint8Array(64)),
        createdUnixMillis: BigInt(Date.now()),
      };
      const rawTx = payments[n % 2000].request.signedTx;
      const pending: PendingTx = {
        txHash,
        chainTxHash: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
        rawTx,
        sender,
        nonceKey,
        nonceSeq: 0n,
        validBeforeMillis: 1n,
        debits: [{
          account: sender,
          token: "0x20c0000000000000000000000000000000000000",
          amount: 1n,
        }],
      };
      return store.certify({
        kind: "certify",
        certificate,
        sender,
        nonceKey,
        nonceSeq: 0n,
        pending,
        entry: {
          certificate,
          signedTx: rawTx,
          parentQcHash: new Uint8Array(),
          sender,
          recipient,
          amount: 1n,
          asset: "0x20c0000000000000000000000000000000000000",
          nonceKey,
          nonceSeq: 0n,
          validBeforeMillis: 1n,
        },
      });
    };
    for (let i = 0; i < 200; i++) await Promise.all(Array.from({ length: 100 }, write));
    for (const batch of [1, 32, 96]) {
      const rounds = batch === 1 ? 300 : 40;
      const micros = await time(rounds, () => Promise.all(Array.from({ length: batch }, write)), 3);
      out.push({
        name: `Deno KV durable commit, ${batch} certification${batch > 1 ? "s" : ""}`,
        micros,
        note: `${Math.round(micros / batch)} µs per certification`,
      });
    }
  } finally {
    store.close();
  }
  out.push(await irreducibleCommit(join(dir, "irreducible.kv"), payments[0].request.signedTx));
  return out;
}

/**
 * What any durable layout must write per certification, at the least: its contention lock
 * (checked absent, at a scattered key) and its board entry (appended). 96 per commit, on a
 * database of 20,000: no layout of the sidecar's store can beat this on this disk.
 */
async function irreducibleCommit(path: string, signedTx: Uint8Array): Promise<PrimitiveCost> {
  const kv = await Deno.openKv(path);
  try {
    let sequence = 0n;
    const commit = (batch: number) => {
      const op = kv.atomic();
      for (let i = 0; i < batch; i++) {
        const lock = ["lock", crypto.getRandomValues(new Uint8Array(52))];
        const signature = crypto.getRandomValues(new Uint8Array(64));
        op.check({ key: lock, versionstamp: null }).set(lock, signature)
          .set(["board", ++sequence], { signature, signedTx });
      }
      return op.commit();
    };
    for (let i = 0; i < 200; i++) await commit(100);
    const micros = await time(40, () => commit(96), 3);
    return {
      name: "Deno KV durable commit, 96 certifications, irreducible rows (lock + board entry)",
      micros,
      note: `${Math.round(micros / 96)} µs per certification: the floor of any durable layout`,
    };
  } finally {
    kv.close();
  }
}

/** The primitives as a Markdown table. */
export function primitivesTable(costs: readonly PrimitiveCost[]): string {
  return [
    "| primitive | µs per operation | note |",
    "|---|--:|---|",
    ...costs.map((c) => `| ${c.name} | ${c.micros} | ${c.note ?? ""} |`),
  ].join("\n");
}
