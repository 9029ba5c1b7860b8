/**
 * Per-validator health: every interval, each sidecar is asked for its chain head with a timeout;
 * the answer (or its absence) gives up/down, the round-trip latency and the validator's head.
 * Changes of up/down are announced as `validator` events.
 *
 * @module
 */
import { bytesToHex, type Hex } from "viem";
import { Code, ConnectError } from "@connectrpc/connect";
import type { SidecarConnection } from "@allegro/client";
import type { Logger } from "@allegro/server/log";
import type { EventHub } from "./events.ts";

/** One validator's health as last probed. */
export interface ValidatorHealth {
  readonly name: string;
  readonly pubkey: Hex;
  readonly endpoint: string;
  /** `up`: answered with a head; `unready`: answered that its chain view is not ready; `down`: no answer. */
  readonly status: "up" | "unready" | "down" | "unknown";
  readonly latencyMillis?: number;
  readonly head?: { readonly height: bigint; readonly hash: Hex; readonly timestampMillis: bigint };
  readonly checkedMillis?: number;
  /** When it last answered with a head. */
  readonly lastUpMillis?: number;
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
      status: "unknown",
    }));
  }

  /** The last probe of every validator, in committee order. */
  snapshot(): readonly ValidatorHealth[] {
    return [...this.#state];
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  /** Probes every sidecar once. */
  async probe(): Promise<void> {
    await Promise.all(this.#sidecars.map(async ({ client }, i) => {
      const started = performance.now();
      const prev = this.#state[i];
      let next: ValidatorHealth;
      try {
        const head = await client.getChainHead({}, {
          timeoutMs: this.#timeoutMillis,
          signal: this.#stop.signal,
        });
        next = {
          ...prev,
          status: "up",
          latencyMillis: Math.round((performance.now() - started) * 10) / 10,
          head: {
            height: head.height,
            hash: bytesToHex(head.hash),
            timestampMillis: head.timestampUnixMillis,
          },
          checkedMillis: Date.now(),
          lastUpMillis: Date.now(),
          error: undefined,
        };
      } catch (e) {
        const unready = e instanceof ConnectError && e.code === Code.Unavailable &&
          e.rawMessage.includes("chain view");
        next = {
          ...prev,
          status: unready ? "unready" : "down",
          latencyMillis: unready ? Math.round((performance.now() - started) * 10) / 10 : undefined,
          checkedMillis: Date.now(),
          error: (e as Error).message.split("\n")[0].slice(0, 200),
        };
      }
      this.#state[i] = next;
      if (prev.status !== next.status && !this.#stop.signal.aborted) {
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
      }
    }));
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await this.probe();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#intervalMillis);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }
}
