/**
 * The `FastPaySidecar` Connect service: wire messages in, {@linkcode Certifier} and store calls,
 * wire messages out. No rules live here.
 *
 * @module
 */
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { bytesToHex, hexToBytes } from "viem";
import {
  type BulletinEntry,
  BulletinEntrySchema,
  FastPaySidecar,
  type SidecarEventSchema,
  Stage,
  type SubmitFastPayRequest,
  SubmitFastPayRequestSchema,
  SubmitFastPayResponseSchema,
} from "@allegro/proto";
import {
  type CertificateSigner,
  certificateToProto,
  type Committee,
  PROTOCOL_VERSION,
  qcFromProto,
  rejectCodeToProto,
} from "@allegro/client";
import type { Answer, Certifier } from "./certifier.ts";
import type { TxEvent, TxEvents } from "./events.ts";
import type { Ledger } from "./ledger.ts";
import type { SidecarMetrics } from "./metrics.ts";
import type { BoardEntry, Store } from "./store.ts";
import type { SubmissionRequest } from "./submission.ts";

/** What the service needs. */
export interface SidecarServiceDeps {
  readonly name: string;
  readonly committee: Committee;
  readonly signer: CertificateSigner;
  readonly peers: readonly string[];
  readonly certifier: Certifier;
  readonly store: Store;
  readonly ledger: Ledger;
  readonly events: TxEvents;
  readonly metrics: SidecarMetrics;
  /** Most entries in one bulletin-board page. */
  readonly maxPage: number;
}

/** Certifies one wire submission and counts it in the metrics. */
function submitter(deps: Pick<SidecarServiceDeps, "certifier" | "metrics">) {
  return async (req: SubmitFastPayRequest): Promise<Answer> => {
    const started = performance.now();
    const answer = await deps.certifier.submit(submissionFromProto(req));
    deps.metrics.submission(
      performance.now() - started,
      "reject" in answer ? answer.reject.code : undefined,
    );
    return answer;
  };
}

const SUBMIT_PATH = `/${FastPaySidecar.typeName}/${FastPaySidecar.method.submitFastPay.name}`;

/** A Connect unary error (protocol: JSON body, HTTP status by code). */
function connectError(status: number, code: string, message: string): Response {
  return Response.json({ code, message }, { status });
}

/**
 * The hot path of the Connect protocol for `SubmitFastPay` in binary (what the backend's and the
 * client's fan-out send): an uncompressed `application/proto` POST with a known length is decoded,
 * certified and answered here, without the generic Connect handler's streams, abort controllers
 * and header machinery (measured: about a third of the sidecar's time per request over HTTP).
 * Anything else — JSON, compression, gRPC-Web, unknown length, other methods — returns
 * `undefined` and goes to the Connect router as before. Use as the listener's `fallback`.
 *
 * @example
 * ```ts ignore
 * serveConnect({ ..., fallback: submitFastPath(deps, 1 << 20) });
 * ```
 */
export function submitFastPath(
  deps: Pick<SidecarServiceDeps, "certifier" | "metrics">,
  readMaxBytes: number,
): (request: Request) => Promise<Response | undefined> | undefined {
  const submit = submitter(deps);
  return (request) => {
    if (request.method !== "POST" || !request.url.endsWith(SUBMIT_PATH)) return undefined;
    const headers = request.headers;
    const encoding = headers.get("content-encoding");
    const length = Number(headers.get("content-length") ?? NaN);
    if (
      headers.get("content-type") !== "application/proto" ||
      (encoding !== null && encoding !== "identity") ||
      !Number.isSafeInteger(length) ||
      new URL(request.url).pathname !== SUBMIT_PATH
    ) {
      return undefined;
    }
    return (async () => {
      if (length > readMaxBytes) {
        await request.body?.cancel();
        return connectError(
          429,
          "resource_exhausted",
          `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
        );
      }
      let message: SubmitFastPayRequest;
      try {
        message = fromBinary(
          SubmitFastPayRequestSchema,
          new Uint8Array(await request.arrayBuffer()),
        );
      } catch (e) {
        return connectError(400, "invalid_argument", `parse binary: ${(e as Error).message}`);
      }
      const answer = await submit(message);
      const body = toBinary(
        SubmitFastPayResponseSchema,
        create(SubmitFastPayResponseSchema, answerToProto(answer)),
      );
      return new Response(body, { status: 200, headers: { "content-type": "application/proto" } });
    })();
  };
}

/** A wire submission as the certifier's request. */
export function submissionFromProto(m: SubmitFastPayRequest): SubmissionRequest {
  return {
    signedTx: m.signedTx,
    parentQcHash: m.parentQcHash,
    clientRequestId: m.clientRequestId,
    parents: m.parents.map((p) => ({
      ...(p.qc ? { qc: qcFromProto(p.qc) } : {}),
      signedTx: p.signedTx,
      parentQcHash: p.parentQcHash,
    })),
    ...(m.payment ? { payment: m.payment } : {}),
  };
}

function answerToProto(answer: Answer): MessageInitShape<typeof SubmitFastPayResponseSchema> {
  const hashes = { txHash: answer.txHash, effectsHash: answer.effectsHash };
  if ("certificate" in answer) {
    return {
      ...hashes,
      result: { case: "certificate", value: certificateToProto(answer.certificate) },
    };
  }
  const reject = { code: rejectCodeToProto(answer.reject.code), message: answer.reject.message };
  return { ...hashes, result: { case: "reject", value: reject } };
}

/** A stored board entry as a wire message. */
export function boardEntryToProto(e: BoardEntry): BulletinEntry {
  return create(BulletinEntrySchema, {
    sequence: e.sequence,
    certificate: certificateToProto(e.certificate),
    signedTx: e.signedTx,
    parentQcHash: e.parentQcHash,
    payment: {
      sender: hexToBytes(e.sender),
      recipient: hexToBytes(e.recipient),
      amount: e.amount,
      asset: hexToBytes(e.asset),
      nonceKey: e.nonceKey,
      nonceSeq: e.nonceSeq,
      expiryUnixMillis: e.validBeforeMillis,
    },
  });
}

const STAGE_OF: Record<TxEvent["kind"], Stage> = {
  queued: Stage.QUEUED_ONCHAIN,
  included: Stage.INCLUDED,
  expired: Stage.EXPIRED,
  failed: Stage.FAILED,
};

function invalidArgument(field: string, message: string): never {
  throw new ConnectError(`${field} ${message}`, Code.InvalidArgument);
}

/**
 * The service implementation.
 *
 * @example
 * ```ts ignore
 * serveConnect({ ..., routes: (r) => r.service(FastPaySidecar, sidecarService(deps)) });
 * ```
 */
export function sidecarService(deps: SidecarServiceDeps): ServiceImpl<typeof FastPaySidecar> {
  const submit = submitter(deps);

  return {
    async submitFastPay(req) {
      return answerToProto(await submit(req));
    },

    async *submitFastPayStream(req, context) {
      type Event = MessageInitShape<typeof SidecarEventSchema>;
      const now = () => BigInt(Date.now());
      yield { stage: Stage.ACCEPTED, unixMillis: now() } satisfies Event;
      const answer = await submit(req);
      const txHash = answer.txHash;
      if ("reject" in answer) {
        const reject = {
          code: rejectCodeToProto(answer.reject.code),
          message: answer.reject.message,
        };
        yield { stage: Stage.REJECTED, txHash, reject, unixMillis: now() } satisfies Event;
        return;
      }
      const certificate = certificateToProto(answer.certificate);
      yield { stage: Stage.CERTIFICATE, txHash, certificate, unixMillis: now() } satisfies Event;
      const pending = deps.ledger.pending.get(bytesToHex(answer.certificate.txHash));
      if (pending === undefined) return;
      // Follow the transaction on chain until it settles, expires, or the client goes away.
      const queue: TxEvent[] = [];
      let wake = () => {};
      const stop = deps.events.watch(answer.certificate.txHash, (e) => {
        queue.push(e);
        wake();
      });
      const deadline = Number(pending.validBeforeMillis) - Date.now() + 30_000;
      // setTimeout takes at most 2^31-1 ms (a longer delay fires at once, with a warning); an
      // earlier wake only re-checks the deadline.
      const timer = setTimeout(() => wake(), Math.min(Math.max(deadline, 0), 2 ** 31 - 1));
      const onAbort = () => wake();
      context.signal.addEventListener("abort", onAbort);
      try {
        while (!context.signal.aborted && Date.now() - 30_000 < Number(pending.validBeforeMillis)) {
          const event = queue.shift();
          if (event === undefined) {
            await new Promise<void>((r) => (wake = r));
            continue;
          }
          yield {
            stage: STAGE_OF[event.kind],
            txHash,
            blockHeight: event.blockHeight ?? 0n,
            unixMillis: now(),
          } satisfies Event;
          if (event.kind !== "queued") return;
        }
      } finally {
        stop();
        clearTimeout(timer);
        context.signal.removeEventListener("abort", onAbort);
      }
    },

    async getBulletinBoard(req) {
      if (req.txHash.length !== 0 && req.txHash.length !== 32) {
        invalidArgument("tx_hash", `must be 32 bytes, got ${req.txHash.length}`);
      }
      if (req.address.length !== 0 && req.address.length !== 20) {
        invalidArgument("address", `must be 20 bytes, got ${req.address.length}`);
      }
      const limit = Math.min(req.limit === 0 ? deps.maxPage : req.limit, deps.maxPage);
      const entries = await deps.store.board({
        afterSequence: req.afterSequence,
        limit,
        ...(req.txHash.length ? { txHash: req.txHash } : {}),
        ...(req.address.length ? { address: bytesToHex(req.address) } : {}),
      });
      const last = entries.at(-1)?.sequence ?? req.afterSequence;
      return {
        entries: entries.map(boardEntryToProto),
        nextAfterSequence: last,
        hasMore: entries.length === limit,
      };
    },

    getValidatorInfo() {
      return {
        name: deps.name,
        pubkey: deps.signer.publicKey,
        chainId: deps.committee.chainId,
        epoch: deps.committee.epoch,
        peers: [...deps.peers],
        protocolVersion: PROTOCOL_VERSION,
      };
    },

    getChainHead() {
      const head = deps.ledger.head;
      if (head === undefined) {
        throw new ConnectError("chain view is not ready", Code.Unavailable);
      }
      return {
        height: head.height,
        hash: hexToBytes(head.hash),
        timestampUnixMillis: head.timestampMillis,
      };
    },
  };
}
