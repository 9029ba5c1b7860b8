/**
 * The `FastPayAggregator` Connect service: wire messages in, {@linkcode Aggregator},
 * {@linkcode Lifecycle} and {@linkcode Store} calls, wire messages out. Malformed input is
 * `invalid_argument` naming the field; the backend's own refusals of an order carry their reject
 * code at the start of the message; validators' rejects are data in the answer.
 *
 * @module
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { type Address, bytesToHex, getAddress, hexToBytes } from "viem";
import {
  type AggregateSubmitResponseSchema,
  type BulletinEntry,
  BulletinEntrySchema,
  type ChainHead,
  ChainHeadSchema,
  type FastPayAggregator,
  Stage,
  type TxStatus,
  TxStatusSchema,
} from "@allegro/proto";
import { certificateToProto, qcInit, rejectCodeToProto, signedOrderInit } from "@allegro/client";
import { type Aggregator, SubmitError, type SubmitResult } from "./aggregator.ts";
import type { EventHub } from "./events.ts";
import type { Lifecycle } from "./lifecycle.ts";
import { type RecordReject, stageTime, TERMINAL_STAGES, type TxRecord } from "./record.ts";
import type { BoardEntry, Store } from "./store.ts";
import type { Head } from "./tracker.ts";

/** What the service needs. */
export interface AggregatorServiceDeps {
  readonly aggregator: Aggregator;
  readonly lifecycle: Lifecycle;
  readonly store: Store;
  readonly head: () => Head | undefined;
  readonly events: EventHub;
  readonly maxPage: number;
  readonly watchMaxMillis: number;
  /** Aborted at shutdown: open streams end. */
  readonly closing: AbortSignal;
}

function rejectInit(r: RecordReject) {
  return {
    validator: r.validator,
    signer: r.signer,
    reject: { code: rejectCodeToProto(r.code), message: r.message },
  };
}

/** A record as the wire `TxStatus`. */
function txStatusToProto(r: TxRecord): TxStatus {
  return create(TxStatusSchema, {
    txHash: hexToBytes(r.txHash),
    stage: Stage[r.stage],
    order: signedOrderInit(r.signed),
    certificates: r.certificates.map((c) => certificateToProto(c.certificate)),
    rejects: r.rejects.map(rejectInit),
    ...(r.qc ? { qc: qcInit(r.qc) } : {}),
    blockHeight: r.blockHeight ?? 0n,
    submittedUnixMillis: r.firstSeenMillis,
    certifiedUnixMillis: stageTime(r, "CERTIFIED") ?? stageTime(r, "CONFIRMED") ?? 0n,
    includedUnixMillis: stageTime(r, "INCLUDED") ?? 0n,
    ...(r.settlement
      ? {
        settlementTxHash: hexToBytes(r.settlement.txHash),
        settlementGasUsed: r.settlement.gasUsed ?? 0n,
      }
      : {}),
    failure: r.failure ?? "",
  });
}

function headToProto(h: Head): ChainHead {
  return create(ChainHeadSchema, {
    height: h.height,
    hash: hexToBytes(h.hash),
    timestampUnixMillis: h.time,
  });
}

function boardEntryToProto(e: BoardEntry): BulletinEntry {
  return create(BulletinEntrySchema, {
    sequence: e.sequence,
    order: signedOrderInit(e.signed),
    ...(e.certificate ? { certificate: certificateToProto(e.certificate) } : {}),
    ...(e.qc ? { qc: qcInit(e.qc) } : {}),
  });
}

function submitToProto(s: SubmitResult): MessageInitShape<typeof AggregateSubmitResponseSchema> {
  return {
    txHash: hexToBytes(s.txHash),
    effectsHash: hexToBytes(s.effectsHash),
    certificates: s.certificates.map((c) => certificateToProto(c.certificate)),
    rejects: s.rejects.map(rejectInit),
    ...(s.record?.qc ? { qc: qcInit(s.record.qc) } : {}),
    stage: s.record ? Stage[s.record.stage] : Stage.UNSPECIFIED,
  };
}

function invalid(field: string, why: string): never {
  throw new ConnectError(`${field} ${why}`, Code.InvalidArgument);
}

function txHashArgument(value: Uint8Array) {
  if (value.length !== 32) invalid("tx_hash", `must be 32 bytes, got ${value.length}`);
  return bytesToHex(value);
}

function addressArgument(value: Uint8Array): Address {
  if (value.length !== 20) invalid("address", `must be 20 bytes, got ${value.length}`);
  return getAddress(bytesToHex(value));
}

/** What a `WatchTx` stream has sent of a record: it sends again when this changes. */
const version = (r: TxRecord) =>
  [r.stage, r.certificates.length, r.rejects.length, r.qc ? 1 : 0, r.settlement?.gasUsed ?? ""]
    .join("|");

/**
 * The service implementation.
 *
 * @example
 * ```ts ignore
 * router.service(FastPayAggregator, aggregatorService(deps));
 * ```
 */
export function aggregatorService(
  deps: AggregatorServiceDeps,
): ServiceImpl<typeof FastPayAggregator> {
  const { aggregator, lifecycle, store, events } = deps;

  /** A signal that ends a stream: the client left, the backend stops, or the time is up. */
  const streamSignal = (context: HandlerContext) =>
    AbortSignal.any([context.signal, deps.closing, AbortSignal.timeout(deps.watchMaxMillis)]);

  return {
    async submitFastPay(req) {
      try {
        return submitToProto(await aggregator.submit(req));
      } catch (e) {
        if (!(e instanceof SubmitError)) throw e;
        throw new ConnectError(
          `${e.code}: ${e.message}`,
          e.code === "INVALID_FORMAT" ? Code.InvalidArgument : Code.FailedPrecondition,
        );
      }
    },

    async getBulletinBoard(req) {
      const limit = Math.min(req.limit === 0 ? deps.maxPage : req.limit, deps.maxPage);
      const entries = await store.board({
        afterSequence: req.afterSequence,
        limit,
        ...(req.txHash.length ? { txHash: txHashArgument(req.txHash) } : {}),
        ...(req.address.length ? { address: addressArgument(req.address) } : {}),
      });
      return {
        entries: entries.map(boardEntryToProto),
        nextAfterSequence: entries.at(-1)?.sequence ?? req.afterSequence,
        hasMore: entries.length === limit,
      };
    },

    async getQuorumCertificate(req) {
      const txHash = txHashArgument(req.txHash);
      const record = await lifecycle.get(txHash);
      if (!record?.qc) throw new ConnectError(`no QC for tx_hash ${txHash}`, Code.NotFound);
      return { qc: qcInit(record.qc) };
    },

    async getTxStatus(req) {
      const txHash = txHashArgument(req.txHash);
      const record = await lifecycle.get(txHash);
      if (!record) throw new ConnectError(`tx_hash ${txHash} is not known`, Code.NotFound);
      return txStatusToProto(record);
    },

    getChainHead() {
      const head = deps.head();
      if (!head) throw new ConnectError("no vault block processed yet", Code.Unavailable);
      return headToProto(head);
    },

    async *watchTx(req, context) {
      const txHash = txHashArgument(req.txHash);
      const signal = streamSignal(context);
      const sub = events.subscribe({ types: new Set(["certificate", "stage"]), txHash });
      if (!sub) throw new ConnectError("too many open streams", Code.ResourceExhausted);
      try {
        let record = await lifecycle.get(txHash);
        let sent = "";
        while (!signal.aborted) {
          if (record && version(record) !== sent) {
            sent = version(record);
            yield txStatusToProto(record);
            if (TERMINAL_STAGES.has(record.stage)) return;
          }
          if (await sub.next(5000, signal) === undefined) return;
          record = await lifecycle.get(txHash);
        }
      } finally {
        sub.close();
      }
    },

    async *watchHeads(_req, context) {
      const signal = streamSignal(context);
      const sub = events.subscribe({ types: new Set(["head"]) });
      if (!sub) throw new ConnectError("too many open streams", Code.ResourceExhausted);
      try {
        let last = -1n;
        while (!signal.aborted) {
          const head = deps.head();
          if (head && head.height > last) {
            last = head.height;
            yield headToProto(head);
          }
          if (await sub.next(5000, signal) === undefined) return;
        }
      } finally {
        sub.close();
      }
    },
  };
}
