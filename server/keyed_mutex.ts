/**
 * Serializes async sections per key (the sidecar uses one key per sender), without holding
 * memory for idle keys.
 *
 * @module
 */

/**
 * A mutex per key.
 *
 * @example
 * ```ts
 * import { KeyedMutex } from "@allegro/server/keyed-mutex";
 *
 * const mutex = new KeyedMutex();
 * const order: number[] = [];
 * await Promise.all([
 *   mutex.run("alice", async () => { await new Promise((r) => setTimeout(r, 5)); order.push(1); }),
 *   mutex.run("alice", () => { order.push(2); return Promise.resolve(); }),
 * ]);
 * console.log(order); // [1, 2]
 * ```
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier section for `key` has finished. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = new Promise<void>((r) => (release = r));
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Keys with a section running or waiting. */
  get size(): number {
    return this.#tails.size;
  }
}
