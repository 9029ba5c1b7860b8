/**
 * What the page knows live: the backend's setup, chain heads, validator health and the committee,
 * and certificates and stage changes of payments — from the backend's event stream
 * (`GET /api/v1/events`, SSE), `GET /config` and a validator poll. A small external store that
 * React components read with {@linkcode useLive}.
 *
 * @module
 */
import { createContext, useContext, useSyncExternalStore } from "react";
import { type Committee, parseCommittee } from "@allegro/client";
import { api, type ConfigJson, type HeadJson, type ValidatorsJson } from "./api.ts";
import { checkCommittee, type CommitteeCheck } from "./onchain.ts";

/** A chain head. */
export interface Head {
  readonly height: number;
  readonly hash: string;
  /** Chain time, unix ms. */
  readonly chainMillis: number;
  /** When the backend processed it (its clock): the block boundary as it observed it. */
  readonly seenMillis: number;
  /** When this page learnt of it (this browser's clock). */
  readonly localMillis: number;
}

/** A validator's certificate of a payment, as the backend received it. */
export interface CertArrival {
  readonly validator: string;
  readonly receivedMillis: number;
}

/** A lifecycle stage a payment reached. */
export interface StageMark {
  readonly stage: string;
  readonly atMillis: number;
  readonly blockHeight?: number;
}

/** What the stream said about one payment. */
export interface TxLive {
  readonly certificates: readonly CertArrival[];
  readonly stages: readonly StageMark[];
  /** Lowercase payer and recipient. */
  readonly payer: string;
  readonly recipient: string;
}

/** The live state. Replaced (never mutated) on every change. */
export interface LiveState {
  /** The event stream and the validator poll both answer (`open`), or not (`down`). */
  readonly connection: "connecting" | "open" | "down";
  readonly config?: ConfigJson;
  /** Recent heads, ascending. */
  readonly heads: readonly Head[];
  readonly validators?: ValidatorsJson;
  /** The committee as the backend names it: what QCs are verified against. */
  readonly committee?: Committee;
  /** That committee checked against the one the vault registers. */
  readonly committeeCheck: CommitteeCheck;
  /** Payments by `tx_hash` (lowercase hex). */
  readonly txs: ReadonlyMap<string, TxLive>;
}

const MAX_HEADS = 200;
const MAX_TXS = 500;
const POLL_MILLIS = 1000;

/** The live store: start it once, read it with {@linkcode useLive}. */
export class LiveFeed {
  #state: LiveState = {
    connection: "connecting",
    heads: [],
    txs: new Map(),
    committeeCheck: { state: "checking" },
  };
  readonly #listeners = new Set<() => void>();
  #source: EventSource | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #streamState: "waiting" | "open" | "failed" = "waiting";
  #pollState: "waiting" | "ok" | "failed" = "waiting";
  #committeeKey = "";
  /** Bumped by start and stop: a poll of an earlier run does not schedule another. */
  #generation = 0;

  /** Opens the event stream and starts polling the setup and the validators. */
  start(): void {
    const generation = ++this.#generation;
    const source = new EventSource("/api/v1/events");
    source.onopen = () => {
      this.#streamState = "open";
      this.#updateConnection();
    };
    source.onerror = () => {
      this.#streamState = "failed";
      this.#updateConnection();
    };
    source.addEventListener("head", (e) => this.#head(JSON.parse(e.data)));
    source.addEventListener("certificate", (e) => {
      const c = JSON.parse(e.data);
      this.#tx(c, (tx) => {
        if (tx.certificates.some((x) => x.validator === c.validator)) return tx;
        const arrival = { validator: c.validator, receivedMillis: Number(c.received_unix_millis) };
        return { ...tx, certificates: [...tx.certificates, arrival] };
      });
    });
    source.addEventListener("stage", (e) => {
      const s = JSON.parse(e.data);
      const mark: StageMark = {
        stage: s.stage,
        atMillis: Number(s.at_unix_millis),
        ...(s.block_height ? { blockHeight: Number(s.block_height) } : {}),
      };
      this.#tx(s, (tx) => ({ ...tx, stages: [...tx.stages, mark] }));
    });
    source.addEventListener("validator", () => this.#poll(generation));
    this.#source = source;
    api.head().then((h) => this.#head(h), () => {});
    this.#poll(generation);
  }

  /** Closes the stream and stops polling. */
  stop(): void {
    this.#generation++;
    this.#source?.close();
    clearTimeout(this.#timer);
  }

  /** For `useSyncExternalStore`. */
  readonly subscribe = (listener: () => void): () => void => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** For `useSyncExternalStore`. */
  readonly getState = (): LiveState => this.#state;

  /**
   * Resolves with the first defined `pick(state)`, now or after a later change; rejects after
   * `timeoutMillis` with "timed out … waiting for `what`".
   */
  waitFor<T>(pick: (s: LiveState) => T | undefined, timeoutMillis: number, what: string) {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = pick(this.#state);
        if (value === undefined) return false;
        done();
        resolve(value);
        return true;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMillis / 1000} s waiting for ${what}`));
      }, timeoutMillis);
      const unsubscribe = this.subscribe(check);
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
      };
      check();
    });
  }

  #set(patch: Partial<LiveState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const listener of [...this.#listeners]) listener();
  }

  #updateConnection(): void {
    const connection = this.#streamState === "failed" || this.#pollState === "failed"
      ? "down"
      : this.#streamState === "open" && this.#pollState === "ok"
      ? "open"
      : "connecting";
    if (connection !== this.#state.connection) this.#set({ connection });
  }

  #head(h: HeadJson): void {
    const height = Number(h.height);
    const last = this.#state.heads.at(-1);
    if (last && height <= last.height) return;
    const head = {
      height,
      hash: h.hash,
      chainMillis: Number(h.timestamp_unix_millis),
      seenMillis: Number(h.received_unix_millis),
      localMillis: Date.now(),
    };
    this.#set({ heads: [...this.#state.heads, head].slice(-MAX_HEADS) });
  }

  #tx(
    event: { tx_hash: string; payer: string; recipient: string },
    change: (tx: TxLive) => TxLive,
  ): void {
    const txs = new Map(this.#state.txs);
    const before = txs.get(event.tx_hash) ??
      { certificates: [], stages: [], payer: event.payer, recipient: event.recipient };
    txs.delete(event.tx_hash);
    txs.set(event.tx_hash, change(before));
    if (txs.size > MAX_TXS) txs.delete(txs.keys().next().value!);
    this.#set({ txs });
  }

  async #poll(generation: number): Promise<void> {
    clearTimeout(this.#timer);
    try {
      const [validators, config] = await Promise.all([
        api.validators(),
        this.#state.config ?? api.config(),
      ]);
      if (generation !== this.#generation) return;
      const key = validators.validators.map((v) => v.pubkey).join();
      if (key !== this.#committeeKey) {
        this.#committeeKey = key;
        const committee = parseCommittee(validators);
        this.#set({ committee, committeeCheck: { state: "checking" } });
        checkCommittee(committee, config.public_rpc_url).then((committeeCheck) => {
          if (this.#state.committee === committee) this.#set({ committeeCheck });
        });
      }
      this.#set({ validators, config });
      this.#pollState = "ok";
    } catch {
      if (generation !== this.#generation) return;
      this.#pollState = "failed";
    }
    this.#updateConnection();
    this.#timer = setTimeout(() => this.#poll(generation), POLL_MILLIS);
  }
}

/** The page's {@linkcode LiveFeed}. */
export const LiveContext = createContext<LiveFeed | null>(null);

/** The {@linkcode LiveFeed} of the page. */
export function useFeed(): LiveFeed {
  const feed = useContext(LiveContext);
  if (!feed) throw new Error("useFeed outside <LiveContext>");
  return feed;
}

/** The live state; the component re-renders on every change. */
export function useLive(): LiveState {
  const feed = useFeed();
  return useSyncExternalStore(feed.subscribe, feed.getState);
}

/** Whose clock a time is on: this browser's, or the backend's. */
export type Clock = "local" | "backend";

/** When `head` was seen, on `clock`. */
export function headTime(head: Head, clock: Clock): number {
  return clock === "local" ? head.localMillis : head.seenMillis;
}

/** The last head seen at or before `t` on `clock`. */
export function headAt(heads: readonly Head[], t: number, clock: Clock): Head | undefined {
  return heads.findLast((h) => headTime(h, clock) <= t);
}

/** The first head above `height`. */
export function headAfter(heads: readonly Head[], height: number): Head | undefined {
  return heads.find((h) => h.height > height);
}

/** The usual time between heads (median of the recent ones); `fallback` until two are seen. */
export function blockIntervalMillis(heads: readonly Head[], fallback = 1000): number {
  const gaps = heads.slice(-12).flatMap((h, i, all) =>
    i === 0 ? [] : [(h.seenMillis - all[i - 1].seenMillis) / (h.height - all[i - 1].height)]
  ).sort((a, b) => a - b);
  return gaps.length ? gaps[Math.floor(gaps.length / 2)] : fallback;
}

/** The chain time now, estimated from the newest head and this browser's clock (unix ms). */
export function chainTimeNow(heads: readonly Head[], now = Date.now()): number | undefined {
  const head = heads.at(-1);
  return head && head.chainMillis + Math.max(0, now - head.localMillis);
}
