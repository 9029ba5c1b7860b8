/**
 * Bounded caches that spare the sidecar repeated work: decoded payments by their signed bytes
 * (a parent is decoded when it is certified and again as a child's parent; replays and retries
 * send the same bytes), and Ed25519 signatures already known to be valid (the sidecar's own,
 * and every one it verified — a parent QC usually holds the sidecar's own certificate).
 *
 * @module
 */
import { bytesToHex } from "viem";
import { decodePayment, type Ed25519Backend, type Payment } from "@allegro/client";

/**
 * A map that forgets its oldest entries beyond `limit` (for what can be computed or fetched
 * again, never for state that must not be lost).
 *
 * @example
 * ```ts
 * import { Bounded } from "./caches.ts";
 *
 * const seen = new Bounded<true>(2);
 * for (const k of ["a", "b", "c"]) seen.set(k, true);
 * console.log(seen.get("a"), seen.get("c")); // undefined true
 * ```
 */
export class Bounded<V> {
  readonly #map = new Map<string, V>();
  constructor(readonly limit: number) {}

  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  set(key: string, value: V): void {
    if (this.#map.has(key)) return;
    this.#map.set(key, value);
    if (this.#map.size > this.limit) this.#map.delete(this.#map.keys().next().value!);
  }

  get size(): number {
    return this.#map.size;
  }
}

/**
 * {@linkcode decodePayment} with a bounded cache of successful decodes (decoding is a pure
 * function of the bytes and the chain id; failures are not cached).
 *
 * @example
 * ```ts
 * import { PaymentCache } from "./caches.ts";
 *
 * const cache = new PaymentCache(1000);
 * try {
 *   cache.decode(new Uint8Array([0x76]), 1337n);
 * } catch (e) {
 *   console.log((e as Error).name); // AllegroError
 * }
 * ```
 */
export class PaymentCache {
  readonly #cache: Bounded<Payment>;
  hits = 0;
  misses = 0;

  constructor(limit = 20_000) {
    this.#cache = new Bounded(limit);
  }

  /** The decoded payment of `signedTx`; throws what {@linkcode decodePayment} throws. */
  decode(signedTx: Uint8Array, chainId: bigint): Payment {
    const key = `${chainId}:${bytesToHex(signedTx)}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const payment = decodePayment(signedTx, { chainId });
    this.#cache.set(key, payment);
    return payment;
  }

  /** Entries held. */
  get size(): number {
    return this.#cache.size;
  }
}

/**
 * Wraps an Ed25519 backend so that signatures it produced or verified are remembered as valid
 * (bounded): verifying one of those again is a lookup. Only successes are remembered.
 *
 * @example
 * ```ts
 * import { ed25519 } from "@allegro/client";
 * import { cachingEd25519 } from "./caches.ts";
 *
 * const backend = cachingEd25519(await ed25519());
 * const seed = new Uint8Array(32).fill(9);
 * const message = new Uint8Array(32);
 * const signature = await backend.sign(seed, message);
 * console.log(await backend.verify(signature, message, await backend.getPublicKey(seed))); // true
 * ```
 */
export function cachingEd25519(inner: Ed25519Backend, limit = 50_000): Ed25519Backend {
  const valid = new Bounded<true>(limit);
  const publicKeys = new Bounded<Uint8Array>(64);
  const id = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) =>
    `${bytesToHex(publicKey)}${bytesToHex(message).slice(2)}${bytesToHex(signature).slice(2)}`;
  const publicKeyOf = async (secretKey: Uint8Array) => {
    const k = bytesToHex(secretKey);
    let pub = publicKeys.get(k);
    if (pub === undefined) {
      pub = await inner.getPublicKey(secretKey);
      publicKeys.set(k, pub);
    }
    return pub;
  };
  return {
    name: `${inner.name}+cache`,
    getPublicKey: (secretKey) => inner.getPublicKey(secretKey),
    async sign(secretKey, message) {
      const signature = await inner.sign(secretKey, message);
      valid.set(id(signature, message, await publicKeyOf(secretKey)), true);
      return signature;
    },
    async verify(signature, message, publicKey) {
      if (signature.length !== 64 || publicKey.length !== 32) return false;
      const key = id(signature, message, publicKey);
      if (valid.get(key)) return true;
      const ok = await inner.verify(signature, message, publicKey);
      if (ok) valid.set(key, true);
      return ok;
    },
  };
}
