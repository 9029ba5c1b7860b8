/**
 * The `FastPaySidecar` Connect service: wire messages in, {@linkcode Certifier} and store calls,
 * wire messages out. No rules live here. Malformed input is a client error: a submission that
 * does not decode is answered with an `INVALID_FORMAT` reject, a bad query field with
 * `invalid_argument`.
 *
 * @module
 */
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { type Address, bytesToHex, getAddress, hexToBytes } from "viem";
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
  AllegroError,
  certificateToProto,
  certifiedOrderFromProto,
  type Committee,
  PROTOCOL_VERSION,
  qcInit,
  rejectCodeToProto,
  signedOrderFromProto,
  signedOrderInit,
} from "@allegro/client";
import type { Answer, Certifier, SubmissionRequest } from "./certifier.ts";
import type { TxEvent, TxEvents } from "./events.ts";
import type { SidecarMetrics } from "./metrics.ts";
import type { BoardEntry, Store } from "./store.ts";
import type { Logger } from "@allegro/server/log";
import type { ChainView } from "./authority.ts";

/** What the service needs. */
export interface SidecarServiceDeps {
  readonly name: string;
  readonly committee: Committee;
  readonly publicKey: Uint8Array;
  readonly settlementAddress: Address;
  readonly peers: readonly string[];
  readonly certifier: Certifier;
  readonly store: Store;
  readonly chain: () => ChainView | undefined;
  readonly events: TxEvents;
  readonly metrics: SidecarMetrics;
  readonly log: Logger;
  /** Most entries in one bulletin-board page. */
  readonly maxPage: number;
}

/**
 * A wire submission as the certifier's request; throws an `INVALID_FORMAT` `AllegroError`
 * naming the field when it does not decode. `client_request_id` is only logged, so it is not
 * passed on.
 *
 * @example
 * ```ts ignore
 * const request = submissionFromProto(message);
 * ```
 */
export function submissionFromProto(m: SubmitFastPayRequest): SubmissionRequest {
  return {
    signed: signedOrderFromProto(m.order),
    laneQcs: m.laneQcs.map(certifiedOrderFromProto),
    ...(m.parent ? { parent: certifiedOrderFromProto(m.parent) } : {}),
  };
}

/**
 * Certifies one wire submission and counts it in the metrics. A reject is logged with the
 * client's `client_request_id`, which decides nothing: it is only for matching logs.
 */
function submitter(deps: Pick<SidecarServiceDeps, "certifier" | "metrics" | "log">) {
  return async (m: SubmitFastPayRequest): Promise<Answer> => {
    const started = performance.now();
    let answer: Answer;
    try {
      answer = await deps.certifier.submit(submissionFromProto(m));
    } catch (e) {
      if (!(e instanceof AllegroError)) throw e;
      answer = { reject: { code: e.code, message: e.message } };
    }
    deps.metrics.submission(
      performance.now() - started,
      "reject" in answer ? answer.reject.code : undefined,
      "certificate" in answer && answer.confirmation,
    );
    if ("reject" in answer) {
      deps.log.info("rejected", {
        code: answer.reject.code,
        message: answer.reject.message,
        ...(answer.txHash ? { tx_hash: answer.txHash } : {}),
        ...(m.clientRequestId ? { client_request_id: m.clientRequestId.slice(0, 128) } : {}),
      });
    }
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
 * client's fan-out send): an uncompressed `application/proto` POST with a known length is
 * decoded, certified and answered here, without the generic Connect handler's machinery.
 * Anything else — JSON, compression, gRPC-Web, unknown length, other methods — returns
 * `undefined` and goes to the Connect router. Use as the listener's `fallback`.
 *
 * @example
 * ```ts ignore
 * serveConnect({ ..., fallback: submitFastPath(deps, 1 << 20) });
 * ```
 */
export function submitFastPath(
  deps: Pick<SidecarServiceDeps, "certifier" | "metrics" | "log">,
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

/**
 * A stored board entry as a wire message.
 *
 * @example
 * ```ts ignore
 * const message = boardEntryToProto(entry);
 * ```
 */
export function boardEntryToProto(e: BoardEntry): BulletinEntry {
  return create(BulletinEntrySchema, {
    sequence: e.sequence,
    order: signedOrderInit(e.signed),
    ...(e.certificate ? { certificate: certificateToProto(e.certificate) } : {}),
    ...(e.qc ? { qc: qcInit(e.qc) } : {}),
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

function addressArgument(field: string, bytes: Uint8Array): Address {
  if (bytes.length !== 20) invalidArgument(field, `must be 20 bytes, got ${bytes.length}`);
  return getAddress(bytesToHex(bytes));
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
      if (answer.confirmation) return; // confirms a seq; never settles
      // Follow the order on chain until it settles or expires, or the client goes away.
      const validBefore = req.order?.order?.validBefore ?? 0n;
      const queue: TxEvent[] = [];
      let wake = () => {};
      const stop = deps.events.watch(answer.certificate.txHash, (e) => {
        queue.push(e);
        wake();
      });
      const deadline = Number(validBefore) - Date.now() + 30_000;
      // setTimeout takes at most 2^31-1 ms; an earlier wake only re-checks the deadline.
      const timer = setTimeout(() => wake(), Math.min(Math.max(deadline, 0), 2 ** 31 - 1));
      const onAbort = () => wake();
      context.signal.addEventListener("abort", onAbort);
      try {
        while (!context.signal.aborted && Date.now() - 30_000 < Number(validBefore)) {
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
        ...(req.txHash.length ? { txHash: bytesToHex(req.txHash) } : {}),
        ...(req.address.length ? { address: getAddress(bytesToHex(req.address)) } : {}),
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
        pubkey: deps.publicKey,
        chainId: deps.committee.chainId,
        epoch: deps.committee.epoch,
        peers: [...deps.peers],
        protocolVersion: PROTOCOL_VERSION,
        settlementAddress: hexToBytes(deps.settlementAddress),
        vault: hexToBytes(deps.committee.vault),
      };
    },

    getChainHead() {
      const head = deps.chain();
      if (head === undefined) throw new ConnectError("chain view is not ready", Code.Unavailable);
      return { height: head.height, hash: hexToBytes(head.hash), timestampUnixMillis: head.time };
    },

    async getLane(req) {
      const payer = addressArgument("payer", req.payer);
      const token = addressArgument("token", req.token);
      let lane;
      try {
        lane = await deps.certifier.lane(payer, token);
      } catch (e) {
        throw new ConnectError((e as Error).message, Code.Unavailable);
      }
      return {
        appliedPrefix: lane.appliedPrefix,
        lockedTxHash: lane.locked ? hexToBytes(lane.locked) : new Uint8Array(),
        ...(lane.own ? { certificate: certificateToProto(lane.own) } : {}),
        chainTimeUnixMillis: lane.chainTime,
        balance: lane.balance.toString(),
        available: lane.available.toString(),
      };
    },
  };
}
