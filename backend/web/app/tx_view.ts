/**
 * One payment as the page knows it: the backend's stored status (`GET /api/v1/tx/{hash}`),
 * refreshed as live events about it arrive, merged with those events, and its QC verified in
 * the browser.
 *
 * @module
 */
import { useEffect, useMemo, useState } from "react";
import { type Hex, hexToBytes } from "viem";
import { verifyCertifiedPayment } from "@allegro/client";
import { api, ApiError, type RejectJson, type SubmissionJson, type TxJson } from "./api.ts";
import { type StageMark, useLive } from "./live.ts";
import { qcFromJson } from "./payments.ts";

/** A payment: what the backend stored and what the stream said since. */
export interface TxView {
  readonly record?: TxJson;
  /** The backend does not know the payment (yet). */
  readonly missing: boolean;
  /** When each validator's certificate reached the backend (unix ms), by validator name. */
  readonly certificates: ReadonlyMap<string, number>;
  readonly rejects: ReadonlyMap<string, RejectJson>;
  /** The latest time each stage was reached. */
  readonly stages: ReadonlyMap<string, StageMark>;
  /** The current stage. */
  readonly stage?: string;
  readonly blockHeight?: number;
}

/** The view of `txHash`; `submission` adds the rejects of the payer's own submission. */
export function useTxView(txHash: string | undefined, submission?: SubmissionJson): TxView {
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
    const certificates = new Map<string, number>();
    for (const c of [...(submission?.certificates ?? []), ...(record?.certificates ?? [])]) {
      certificates.set(c.validator, Number(c.received_unix_millis));
    }
    for (const c of live?.certificates ?? []) {
      if (!certificates.has(c.validator)) certificates.set(c.validator, c.receivedMillis);
    }
    const rejects = new Map<string, RejectJson>();
    for (const r of [...(submission?.rejects ?? []), ...(record?.rejects ?? [])]) {
      if (!certificates.has(r.validator)) rejects.set(r.validator, r);
    }
    const marks: StageMark[] = [
      ...(record?.history ?? []).map((h) => ({
        stage: h.stage,
        atMillis: Number(h.at_unix_millis),
        ...(h.block_height ? { blockHeight: Number(h.block_height) } : {}),
      })),
      ...(live?.stages ?? []),
    ].sort((a, b) => a.atMillis - b.atMillis);
    const stages = new Map(marks.map((m) => [m.stage, m]));
    const last = marks.at(-1);
    const blockHeight = record?.block
      ? Number(record.block.height)
      : marks.findLast((m) => m.blockHeight !== undefined)?.blockHeight;
    return {
      ...(record ? { record } : {}),
      missing: fetched !== undefined && fetched.hash === txHash && fetched.missing && !live,
      certificates,
      rejects,
      stages,
      ...(last ? { stage: last.stage } : {}),
      ...(blockHeight !== undefined ? { blockHeight } : {}),
    };
  }, [txHash, fetched, live, submission]);
}

/** Whether the QC in `record` verifies here, against the committee. */
export type QcCheck =
  | { readonly state: "none" | "checking" | "verified" }
  | { readonly state: "invalid"; readonly message: string };

/** Verifies the record's QC in the browser whenever it (or the committee) changes. */
export function useQcCheck(record: TxJson | undefined): QcCheck {
  const { committee } = useLive();
  const [check, setCheck] = useState<QcCheck & { qc?: string }>({ state: "none" });
  const qc = record?.qc;
  useEffect(() => {
    if (!qc || !committee || !record) return;
    let current = true;
    setCheck({ state: "checking", qc: qc.qc_hash });
    verifyCertifiedPayment(committee, {
      signedTx: hexToBytes(record.signed_tx as Hex),
      ...(record.parent_qc_hash ? { parentQcHash: hexToBytes(record.parent_qc_hash as Hex) } : {}),
      qc: qcFromJson(qc),
    }).then(
      () => current && setCheck({ state: "verified", qc: qc.qc_hash }),
      (e) => current && setCheck({ state: "invalid", message: e.message, qc: qc.qc_hash }),
    );
    return () => {
      current = false;
    };
    // The record object changes on every fetch; its QC (and signed bytes) only once.
  }, [qc?.qc_hash, committee]);
  return check.qc === qc?.qc_hash ? check : { state: qc ? "checking" : "none" };
}
