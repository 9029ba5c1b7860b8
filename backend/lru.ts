/**
 * A bounded least-recently-used map.
 *
 * @module
 */

/**
 * A map that keeps at most `capacity` entries, dropping the least recently used.
 *
 * @example
 * ```ts
 * import { Lru } from "./lru.ts";
 *
 * const lru = new Lru<string, number>(2);
 * lru.set("a", 1);
 * lru.set("b", 2);
 * lru.get("a");
 * lru.set("c", 3); // drops "b"
 * console.log(lru.has("b"), lru.size); // false 2
 * ```
 */
export class Lru<K, V> {
  readonly #map = new Map<K, V>();
  readonly capacity: number;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LRU capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** The value of `key`, marking it most recently used. */
  get(key: K): V | undefined {
    if (!this.#map.has(key)) return undefined;
    const value = this.#map.get(key)!;
    this.#map.delete(key);
    this.#map.set(key, value);
    return value;
  }

  /** Whether `key` is held (does not touch its recency). */
  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Stores `value`, dropping the least recently used entries beyond the capacity. */
  set(key: K, value: V): this {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.capacity) {
      this.#map.delete(this.#map.keys().next().value as K);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  get size(): number {
    return this.#map.size;
  }
}
