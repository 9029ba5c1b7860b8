/**
 * The backend's event stream: chain heads, verified certificates, stage changes and validator
 * health changes, numbered in emission order. Feeds `GET /api/v1/events` (SSE) and the Connect
 * `Watch*` streams. Bounded: a ring of recent events for `Last-Event-ID` resumption, and a bounded
 * queue per subscriber; a subscriber that falls behind is closed (and may resume by id).
 *
 * @module
 */

/** A chain head as the backend saw it. */
export interface HeadEvent {
  readonly type: "head";
  readonly height: string;
  readonly hash: string;
  readonly timestamp_unix_millis: string;
  /** When the backend first saw this head (its clock): the block boundary as it observed it. */
  readonly received_unix_millis: string;
}

/** A verified certificate, the first time the backend holds it. */
export interface CertificateEvent {
  readonly type: "certificate";
  readonly tx_hash: string;
  readonly validator: string;
  readonly signer: string;
  readonly created_unix_millis: string;
  readonly received_unix_millis: string;
  /** Lowercase 0x addresses of the order's payer and recipient. */
  readonly payer: string;
  readonly recipient: string;
}

/** A lifecycle stage change of one payment. */
export interface StageEvent {
  readonly type: "stage";
  readonly tx_hash: string;
  readonly stage: string;
  readonly previous: string | null;
  readonly at_unix_millis: string;
  readonly block_height?: string;
  readonly qc_hash?: string;
  readonly failure?: string;
  readonly payer: string;
  readonly recipient: string;
}

/** A validator went up or down. */
export interface ValidatorEvent {
  readonly type: "validator";
  readonly name: string;
  readonly up: boolean;
  readonly status: string;
  readonly latency_ms: number | null;
  readonly head_height: string | null;
}

/** Anything the backend announces. */
export type BackendEvent = HeadEvent | CertificateEvent | StageEvent | ValidatorEvent;

/** An event with its position in the stream. */
export interface Stamped {
  readonly id: number;
  readonly event: BackendEvent;
}

/** Which events a subscriber wants; unset fields match everything. */
export interface EventFilter {
  readonly types?: ReadonlySet<BackendEvent["type"]>;
  /** Only certificate and stage events of this transaction (lowercase 0x hex). */
  readonly txHash?: string;
  /** Only certificate and stage events whose payer or recipient is this (lowercase 0x hex). */
  readonly address?: string;
}

/** Whether `event` passes `filter`. */
function matches(filter: EventFilter, event: BackendEvent): boolean {
  if (filter.types && !filter.types.has(event.type)) return false;
  if (event.type === "certificate" || event.type === "stage") {
    if (filter.txHash && event.tx_hash !== filter.txHash) return false;
    if (
      filter.address && event.payer !== filter.address && event.recipient !== filter.address
    ) return false;
  }
  return true;
}

/**
 * One subscriber's view of the stream, made by {@linkcode EventHub.subscribe}.
 *
 * @example
 * ```ts
 * import { EventHub } from "./events.ts";
 *
 * const sub = new EventHub({ ringSize: 4, queueSize: 4, maxSubscribers: 1 }).subscribe({})!;
 * console.log(await sub.next(1)); // idle
 * sub.close();
 * ```
 */
export class Subscription {
  readonly #queue: Stamped[] = [];
  readonly #limit: number;
  readonly #filter: EventFilter;
  readonly #onClose: () => void;
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(filter: EventFilter, limit: number, onClose: () => void) {
    this.#filter = filter;
    this.#limit = limit;
    this.#onClose = onClose;
  }

  /** Queues `stamped` if it matches; a subscriber that falls `limit` events behind is closed. */
  push(stamped: Stamped): void {
    if (this.#closed || !matches(this.#filter, stamped.event)) return;
    if (this.#queue.length >= this.#limit) {
      this.close();
      return;
    }
    this.#queue.push(stamped);
    this.#wake?.();
  }

  /**
   * The next event; `"idle"` after `idleMillis` without one; `undefined` once closed or when
   * `signal` aborts.
   */
  async next(idleMillis: number, signal?: AbortSignal): Promise<Stamped | "idle" | undefined> {
    if (this.#queue.length > 0) return this.#queue.shift();
    if (this.#closed || signal?.aborted) return undefined;
    const woken = Promise.withResolvers<void>();
    const wake = () => woken.resolve();
    this.#wake = wake;
    const timer = setTimeout(wake, idleMillis);
    signal?.addEventListener("abort", wake, { once: true });
    try {
      await woken.promise;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", wake);
      this.#wake = undefined;
    }
    if (this.#queue.length > 0) return this.#queue.shift();
    return this.#closed || signal?.aborted ? undefined : "idle";
  }

  /** Stops delivery and frees the subscriber's slot. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.#onClose();
  }
}

/**
 * Numbers events and delivers them to subscribers.
 *
 * @example
 * ```ts
 * import { EventHub } from "./events.ts";
 *
 * const hub = new EventHub({ ringSize: 16, queueSize: 16, maxSubscribers: 4 });
 * const sub = hub.subscribe({ types: new Set(["head"]) })!;
 * hub.emit({
 *   type: "head",
 *   height: "1",
 *   hash: "0x01",
 *   timestamp_unix_millis: "1000",
 *   received_unix_millis: "1005",
 * });
 * const got = await sub.next(10);
 * console.log(got !== "idle" && got?.id); // 1
 * sub.close();
 * ```
 */
export class EventHub {
  readonly #ring: Stamped[] = [];
  readonly #subscribers = new Set<Subscription>();
  readonly #ringSize: number;
  readonly #queueSize: number;
  readonly #maxSubscribers: number;
  #nextId = 1;

  constructor(options: { ringSize: number; queueSize: number; maxSubscribers: number }) {
    this.#ringSize = options.ringSize;
    this.#queueSize = options.queueSize;
    this.#maxSubscribers = options.maxSubscribers;
  }

  /** Announces `event` to every matching subscriber. */
  emit(event: BackendEvent): void {
    const stamped = { id: this.#nextId++, event };
    this.#ring.push(stamped);
    if (this.#ring.length > this.#ringSize) this.#ring.shift();
    for (const s of [...this.#subscribers]) s.push(stamped);
  }

  /**
   * A subscription to events matching `filter`, starting after event `afterId` when it is still
   * in the ring (else with new events only). `undefined` when there are already
   * `maxSubscribers`.
   */
  subscribe(filter: EventFilter, afterId?: number): Subscription | undefined {
    if (this.#subscribers.size >= this.#maxSubscribers) return undefined;
    const sub: Subscription = new Subscription(
      filter,
      this.#queueSize,
      () => this.#subscribers.delete(sub),
    );
    this.#subscribers.add(sub);
    if (afterId !== undefined) {
      for (const stamped of this.#ring) if (stamped.id > afterId) sub.push(stamped);
    }
    return sub;
  }

  /** Closes every subscription (at shutdown). */
  closeAll(): void {
    for (const s of [...this.#subscribers]) s.close();
  }

  /** Open subscriptions. */
  get subscribers(): number {
    return this.#subscribers.size;
  }

  /** The id of the last event emitted (0 before any). */
  get lastId(): number {
    return this.#nextId - 1;
  }
}
