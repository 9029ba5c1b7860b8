/**
 * One payment as the page knows it. Its lifecycle comes from the backend: the record
 * (`GET /api/v1/tx/{hash}`), fetched again as live events about it arrive, merged with those
 * events. Its certificates form a {@linkcode Certification}: either what this page saw arrive
 * itself (its own payment, on this browser's clock) or the backend's record of them (on the
 * backend's clock), each certificate — signature and settlement attestation — and the QC verified
 * in this browser against the committee.
 *
 * @module
 */
import { useEffect, useMemo, useState } from "react";
import { bytesToHex } from "viem";
import {
  certificateProblem,
  orderEffectsHash,
  orderTxHash,
  verifyCertifiedOrder,
} from "@allegro/client";
import { api, ApiError, type TxJson } from "./api.ts";
import type { RejectLike } from "./errors.ts";
import { type Clock, type StageMark, useLive } from "./live.ts";
import { currentStage, type Stage } from "./stage.tsx";
import { certificateFromJson, qcFromJson, signedOrderFromJson } from "./wire_json.ts";

/** A payment's lifecycle as the backend reports it. */
export interface TxView {
  readonly record?: TxJson;
  /** The backend does not know the payment (yet). */
  readonly missing: boolean;
  /** Every stage mark, oldest first (the backend's clock). */
  readonly marks: readonly StageMark[];
  /** The backend's stage; `undefined` while it knows nothing of the payment. */
  readonly stage?: Stage;
  /** The block it settled in. */
  readonly blockHeight?: number;
}

/** The lifecycle of `txHash`, refreshed by the live events about it. */
export function useTxView(txHash: string | undefined): TxView {
  const live = useLive().txs.get(txHash ?? "");
  const [fetched, setFetched] = useState<{ hash: string; record?: TxJson; missing: boolean }>();
  const changes = (live?.certificates.length ?? 0) + (live?.stages.length ?? 0) * 100;

  useEffect(() => {
    if (!txHash) return;
    let current = true;
    api.tx(txHash).then(
      (record) => current && setFetched({ hash: txHash, record, missing: false }),
      (e) =>
        current && e instanceof ApiError && e.status === 404 &&
        setFetched((f) => f?.hash === txHash ? f : { hash: txHash, missing: true }),
    );
    return () => {
      current = false;
    };
  }, [txHash, changes]);

  return useMemo(() => {
    const record = fetched?.hash === txHash ? fetched?.record : undefined;
    const marks: StageMark[] = [
      ...(record?.history ?? []).map((h) => ({
        stage: h.stage,
        atMillis: Number(h.at_unix_millis),
        ...(h.block_height ? { blockHeight: Number(h.block_height) } : {}),
      })),
      ...(live?.stages ?? []),
    ].sort((a, b) => a.atMillis - b.atMillis);
    const stage = currentStage(marks);
    const blockHeight = record?.block_height
      ? Number(record.block_height)
      : marks.findLast((m) => m.blockHeight !== undefined)?.blockHeight;
    return {
      ...(record ? { record } : {}),
      missing: fetched?.hash === txHash && fetched?.missing === true && !live,
      marks,
      ...(stage ? { stage } : {}),
      ...(blockHeight !== undefined ? { blockHeight } : {}),
    };
  }, [txHash, fetched, live]);
}

/** A check done in this browser. */
export type Check =
  | { readonly state: "checking" }
  | { readonly state: "verified" }
  | { readonly state: "invalid"; readonly message: string };

/** How a payment was certified, per validator, and its QC. */
export interface Certification {
  /** Whose clock the times are on. */
  readonly clock: Clock;
  /** When each validator's certificate arrived, by validator name. */
  readonly arrivals: ReadonlyMap<string, number>;
  /** Each certificate's settlement attestation and whether it verified here. */
  readonly attestations: ReadonlyMap<string, { readonly hex: string; readonly check: Check }>;
  readonly rejects: ReadonlyMap<string, RejectLike>;
  /** The QC: its hash, how many certificates, when it formed, whether it verified here. */
  readonly qc?: {
    readonly hash: string;
    readonly count: number;
    readonly atMillis?: number;
    readonly check: Check;
  };
}

/**
 * The certification the backend recorded for a payment — its record's certificates, the ones
 * the event stream announced since, and the QC — each certificate (over the order's own hashes,
 * Ed25519 signature, attestation) and the QC verified here whenever they or the committee change.
 */
export function useRecordedCertification(txHash: string, view: TxView): Certification {
  const { committee, txs } = useLive();
  const record = view.record;
  const [checked, setChecked] = useState<{ key: string; checks: Map<string, Check> }>();
  const key = [
    record?.qc?.qc_hash,
    ...(record?.certificates ?? []).map((c) => c.signature),
    committee ? "c" : "",
  ].join();

  useEffect(() => {
    if (!record || !committee) return;
    let current = true;
    const signed = signedOrderFromJson(record.order);
    const txHash = bytesToHex(orderTxHash(signed.order));
    const effectsHash = bytesToHex(orderEffectsHash(signed.order));
    const verify = (task: Promise<string | undefined>): Promise<Check> =>
      task.then(
        (problem) => problem ? { state: "invalid", message: problem } : { state: "verified" },
        (e) => ({ state: "invalid", message: (e as Error).message }),
      );
    Promise.all([
      ...record.certificates.map(async (c) =>
        [
          c.validator,
          await verify(
            c.tx_hash !== txHash || c.effects_hash !== effectsHash
              ? Promise.resolve("it is over another order's hashes")
              : certificateProblem(committee, certificateFromJson(c)),
          ),
        ] as const
      ),
      ...(record.qc
        ? [
          verify(
            verifyCertifiedOrder(committee, { signed, qc: qcFromJson(record.qc) }).then(() =>
              undefined
            ),
          ).then((check) => ["QC", check] as const),
        ]
        : []),
    ]).then((checks) => current && setChecked({ key, checks: new Map(checks) }));
    return () => {
      current = false;
    };
    // `key` names everything the checks read.
  }, [key]);

  const live = txs.get(txHash);
  return useMemo((): Certification => {
    const checks = checked?.key === key ? checked.checks : new Map<string, Check>();
    const checking: Check = { state: "checking" };
    const arrivals = new Map<string, number>();
    const attestations = new Map<string, { hex: string; check: Check }>();
    for (const c of record?.certificates ?? []) {
      arrivals.set(c.validator, Number(c.received_unix_millis));
      attestations.set(c.validator, {
        hex: c.attestation,
        check: checks.get(c.validator) ?? checking,
      });
    }
    for (const c of live?.certificates ?? []) {
      if (!arrivals.has(c.validator)) arrivals.set(c.validator, c.receivedMillis);
    }
    const rejects = new Map(
      (record?.rejects ?? []).filter((r) => !arrivals.has(r.validator)).map((
        r,
      ) => [r.validator, r]),
    );
    const qc = record?.qc;
    const qcAt = view.marks.find((m) => m.stage === "CERTIFIED" || m.stage === "CONFIRMED")
      ?.atMillis;
    return {
      clock: "backend",
      arrivals,
      attestations,
      rejects,
      ...(qc
        ? {
          qc: {
            hash: qc.qc_hash,
            count: qc.certificates.length,
            ...(qcAt !== undefined ? { atMillis: qcAt } : {}),
            check: checks.get("QC") ?? checking,
          },
        }
        : {}),
    };
  }, [record, live, view.marks, checked, key]);
}
