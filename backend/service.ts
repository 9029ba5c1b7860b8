/**
 * The `FastPayAggregator` Connect service: wire messages in, {@linkcode Aggregator},
 * {@linkcode Lifecycle} and {@linkcode Store} calls, wire messages out.
 *
 * @module
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { bytesToHex, hexToBytes } from "viem";
import {
  type AggregateSubmitResponseSchema,
  type BulletinEntry,
  BulletinEntrySchema,
  type ChainHead,
  ChainHeadSchema,
  type FastPayAggregator,
  type PaymentSchema,
  Stage,
  type TxStatus,
  TxStatusSchema,
} from "@allegro/proto";
import {
  certificateToProto,
  type Committee,
  qcFromProto,
  qcToProto,
  rejectCodeToProto,
  verifyQuorumCertificate,
} from "@allegro/client";
import { type Aggregator, SubmitError, type SubmitResult } from "./aggregator.ts";
import type { ChainWatcher, Head } from "./chain.ts";
import type { EventHub } from "./events.ts";
import type { Lifecycle } from "./lifecycle.ts";
import { FINAL_STAGES, type RecordPayment, type RecordReject, type TxRecord } from "./record.ts";
import type { BoardEntry, Store } from "./store.ts";

/** What the service needs. */
export interface AggregatorServiceDeps {
  readonly committee: Committee;
  readonly aggregator: Aggregator;
  readonly lifecycle: Lifecycle;
  readonly store: Store;
  readonly chain: ChainWatcher;
  readonly events: EventHub;
  readonly maxPage: number;
  readonly watchMaxMillis: number;
  /** Aborted at shutdown: open streams end. */
  readonly closing: AbortSignal;
}

const SUBMIT_CODES: Record<string, Code> = {
  INVALID_FORMAT: Code.InvalidArgument,
  IDEMPOTENCY_CONFLICT: Code.AlreadyExists,
};

function paymentInit(p: RecordPayment): MessageInitShape<typeof PaymentSchema> {
  return {
    sender: hexToBytes(p.sender),
    recipient: hexToBytes(p.recipient),
    amount: p.amount,
    asset: hexToBytes(p.asset),
    chainId: p.chainId,
    nonceKey: p.nonceKey,
    nonceSeq: p.nonceSeq,
    expiryUnixMillis: p.validBeforeMillis,
    memo: p.memo ?? new Uint8Array(),
  };
}

function rejectInit(r: RecordReject) {
  return {
    validator: r.validator,
    signer: r.signer,
    reject: { code: rejectCodeToProto(r.code), message: r.message },
  };
}

/** A record as the wire `TxStatus`. */
export function txStatusToProto(r: TxRecord): TxStatus {
  const at = (stage: string) => r.history.findLast((h) => h.stage === stage)?.atMillis ?? 0n;
  return create(TxStatusSchema, {
    txHash: r.txHash,
    stage: Stage[r.stage],
    payment: paymentInit(r.payment),
    certificates: r.certificates.map((c) => certificateToProto(c.certificate)),
    rejects: r.rejects.map(rejectInit),
    ...(r.qc ? { qc: qcToProto(r.qc) } : {}),
    blockHeight: r.block?.height ?? 0n,
    parentQcHash: r.parentQcHash,
    submittedUnixMillis: r.firstSeenMillis,
    certifiedUnixMillis: at("CERTIFIED"),
    includedUnixMillis: at("INCLUDED"),
  });
}

function headToProto(h: Head): ChainHead {
  return create(ChainHeadSchema, {
    height: h.height,
    hash: hexToBytes(h.hash),
    timestampUnixMillis: h.timestampMillis,
  });
}

function boardEntryToProto(e: BoardEntry): BulletinEntry {
  return create(BulletinEntrySchema, {
    sequence: e.sequence,
    certificate: certificateToProto(e.certificate),
    signedTx: e.signedTx,
    parentQcHash: e.parentQcHash,
    payment: paymentInit(e.payment),
  });
}

function submitToProto(s: SubmitResult): MessageInitShape<typeof AggregateSubmitResponseSchema> {
  return {
    txHash: s.txHash,
    effectsHash: s.effectsHash,
    certificates: s.certificates.map((c) => certificateToProto(c.certificate)),
    rejects: s.rejects.map(rejectInit),
    ...(s.record?.qc ? { qc: qcToProto(s.record.qc) } : {}),
    stage: s.record ? Stage[s.record.stage] : Stage.UNSPECIFIED,
  };
}

function expect32(field: string, value: Uint8Array): void {
  if (value.length !== 32) {
    throw new ConnectError(`${field} must be 32 bytes, got ${value.length}`, Code.InvalidArgument);
  }
}

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
  const { aggregator, lifecycle, store, chain, events } = deps;

  /** A signal that ends a stream: the client left, the backend stops, or the time is up. */
  const streamSignal = (context: HandlerContext) =>
    AbortSignal.any([context.signal, deps.closing, AbortSignal.timeout(deps.watchMaxMillis)]);

  return {
    async submitFastPay(req) {
      try {
        return submitToProto(
          await aggregator.submit({
            signedTx: req.signedTx,
            parentQcHash: req.parentQcHash,
            parents: req.parents,
            clientRequestId: req.clientRequestId,
          }),
        );
      } catch (e) {
        if (e instanceof SubmitError) {
          throw new ConnectError(
            `${e.code}: ${e.message}`,
            SUBMIT_CODES[e.code] ?? Code.FailedPrecondition,
          );
        }
        throw e;
      }
    },

    async getBulletinBoard(req) {
      if (req.txHash.length !== 0) expect32("tx_hash", req.txHash);
      if (req.address.length !== 0 && req.address.length !== 20) {
        throw new ConnectError(
          `address must be 20 bytes, got ${req.address.length}`,
          Code.InvalidArgument,
        );
      }
      const limit = Math.min(req.limit === 0 ? deps.maxPage : req.limit, deps.maxPage);
      const entries = await store.board({
        afterSequence: req.afterSequence,
        limit,
        ...(req.txHash.length ? { txHash: req.txHash } : {}),
        ...(req.address.length ? { address: bytesToHex(req.address) } : {}),
      });
      return {
        entries: entries.map(boardEntryToProto),
        nextAfterSequence: entries.at(-1)?.sequence ?? req.afterSequence,
        hasMore: entries.length === limit,
      };
    },

    async getQuorumCertificate(req) {
      expect32("tx_hash", req.txHash);
      const record = await lifecycle.get(req.txHash);
      if (!record?.qc) {
        throw new ConnectError(`no QC for tx ${bytesToHex(req.txHash)}`, Code.NotFound);
      }
      const qc = qcToProto(record.qc);
      await verifyQuorumCertificate(deps.committee, qcFromProto(qc));
      return { qc };
    },

    async getTxStatus(req) {
      expect32("tx_hash", req.txHash);
      const record = await lifecycle.get(req.txHash);
      if (!record) {
        throw new ConnectError(`tx ${bytesToHex(req.txHash)} is not known`, Code.NotFound);
      }
      return txStatusToProto(record);
    },

    getChainHead() {
      const head = chain.head;
      if (!head) throw new ConnectError("the chain has not answered recently", Code.Unavailable);
      return headToProto(head);
    },

    async *watchTx(req, context) {
      expect32("tx_hash", req.txHash);
      const signal = streamSignal(context);
      const sub = events.subscribe({
        types: new Set(["certificate", "stage"]),
        txHash: bytesToHex(req.txHash),
      });
      if (!sub) throw new ConnectError("too many open streams", Code.ResourceExhausted);
      try {
        let record = await lifecycle.get(req.txHash);
        let sent = -1;
        const version = (r: TxRecord) => r.certificates.length * 1000 + r.history.length;
        while (!signal.aborted) {
          if (record && version(record) !== sent) {
            sent = version(record);
            yield txStatusToProto(record);
            if (FINAL_STAGES.has(record.stage)) return;
          }
          const next = await sub.next(5000, signal);
          if (next === undefined) return;
          record = await lifecycle.get(req.txHash);
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
        const current = chain.head;
        if (current) {
          last = current.height;
          yield headToProto(current);
        }
        while (!signal.aborted) {
          const next = await sub.next(5000, signal);
          if (next === undefined) return;
          if (next === "idle" || next.event.type !== "head") continue;
          const height = BigInt(next.event.height);
          if (height <= last) continue;
          last = height;
          yield create(ChainHeadSchema, {
            height,
            hash: hexToBytes(next.event.hash as `0x${string}`),
            timestampUnixMillis: BigInt(next.event.timestamp_unix_millis),
          });
        }
      } finally {
        sub.close();
      }
    },
  };
}
