/**
 * Per-validator health: every interval, each sidecar is asked for its chain head with a timeout;
 * the answer (or its absence) gives up / unready / down, the round-trip latency and the
 * validator's head. Changes are logged and announced as `validator` events.
 *
 * @module
 */
import { type Address, bytesToHex, type Hex } from "viem";
import { Code, ConnectError } from "@connectrpc/connect";
import type { SidecarConnection } from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import type { EventHub } from "./events.ts";
import { repeat } from "./repeat.ts";

/** One validator's health as last probed. */
export interface ValidatorHealth {
  readonly name: string;
  readonly pubkey: Hex;
  readonly endpoint: string;
  /** The address of its settlement key (from the committee file, checked against the vault). */
  readonly settlementAddress: Address;
  /**
   * `up`: answered with a head; `unready`: answered that it cannot serve yet (no chain view);
   * `down`: no answer in time; `unknown`: not probed yet.
   */
  readonly status: "up" | "unready" | "down" | "unknown";
  readonly latencyMillis?: number;
  readonly head?: { readonly height: bigint; readonly hash: Hex; readonly time: bigint };
  readonly checkedMillis?: number;
  readonly error?: string;
}

/**
 * Probes the sidecars in the background.
 *
 * @example
 * ```ts ignore
 * const health = new HealthMonitor({ sidecars, intervalMillis: 1000, timeoutMillis: 1000, events, log });
 * health.start();
 * console.log(health.snapshot());
 * await health.stop();
 * ```
 */
export class HealthMonitor {
  readonly #sidecars: readonly SidecarConnection[];
  readonly #intervalMillis: number;
  readonly #timeoutMillis: number;
  readonly #events: EventHub;
  readonly #log: Logger;
  readonly #state: ValidatorHealth[];
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(options: {
    sidecars: readonly SidecarConnection[];
    intervalMillis: number;
    timeoutMillis: number;
    events: EventHub;
    log: Logger;
  }) {
    this.#sidecars = options.sidecars;
    this.#intervalMillis = options.intervalMillis;
    this.#timeoutMillis = options.timeoutMillis;
    this.#events = options.events;
    this.#log = options.log;
    this.#state = options.sidecars.map(({ validator }) => ({
      name: validator.name,
      pubkey: bytesToHex(validator.publicKey),
      endpoint: validator.endpoint,
      settlementAddress: validator.settlementAddress,
      status: "unknown",
    }));
  }

  /** The last probe of every validator, in committee order. */
  snapshot(): readonly ValidatorHealth[] {
    return [...this.#state];
  }

  /** How many validators answered the last probe with a head. */
  get up(): number {
    return this.#state.filter((v) => v.status === "up").length;
  }

  start(): void {
    this.#loop = repeat(this.#stop.signal, this.#intervalMillis, () => this.probe());
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  /** Probes every sidecar once. */
  async probe(): Promise<void> {
    await Promise.all(this.#sidecars.map(async ({ client }, i) => {
      const started = performance.now();
      const latency = () => Math.round((performance.now() - started) * 10) / 10;
      const prev = this.#state[i];
      let next: ValidatorHealth;
      try {
        const head = await client.getChainHead({}, {
          timeoutMs: this.#timeoutMillis,
          signal: this.#stop.signal,
        });
        const { error: _, ...rest } = prev;
        next = {
          ...rest,
          status: "up",
          latencyMillis: latency(),
          head: {
            height: head.height,
            hash: bytesToHex(head.hash),
            time: head.timestampUnixMillis,
          },
          checkedMillis: Date.now(),
        };
      } catch (e) {
        const unready = e instanceof ConnectError && e.code === Code.Unavailable &&
          e.rawMessage.includes("not ready");
        const { latencyMillis: _, ...rest } = prev;
        next = {
          ...rest,
          status: unready ? "unready" : "down",
          ...(unready ? { latencyMillis: latency() } : {}),
          checkedMillis: Date.now(),
          error: (e as Error).message.split("\n")[0].slice(0, 200),
        };
      }
      this.#state[i] = next;
      if (prev.status === next.status || this.#stop.signal.aborted) return;
      (next.status === "up" ? this.#log.info : this.#log.warn)("validator status changed", {
        validator: next.name,
        from: prev.status,
        to: next.status,
        ...(next.error ? { error: next.error } : {}),
      });
      this.#events.emit({
        type: "validator",
        name: next.name,
        up: next.status === "up",
        status: next.status,
        latency_ms: next.latencyMillis ?? null,
        head_height: next.head?.height.toString() ?? null,
      });
    }));
  }
}
