/**
 * Ed25519 with the fastest implementation the runtime has: `node:crypto` where the runtime
 * provides it (Deno, Node), else WebCrypto, else `@noble/ed25519`. Ed25519 is deterministic, so
 * every backend yields the same signature bytes. Nothing here imports a Deno- or Node-only module:
 * `node:crypto` is reached through `process.getBuiltinModule`, so browsers bundle this file as is.
 *
 * @module
 */
import * as noble from "@noble/ed25519";
import { hexToBytes } from "viem";
import { AllegroError } from "./errors.ts";

/** One Ed25519 implementation. Keys are 32-byte seeds and 32-byte public keys. */
export interface Ed25519Backend {
  /** `"node"`, `"webcrypto"` or `"noble"`. */
  readonly name: string;
  /** The 32-byte public key of a 32-byte seed. */
  getPublicKey(secretKey: Uint8Array): Promise<Uint8Array>;
  /** The 64-byte signature of `message` by the 32-byte seed `secretKey`. */
  sign(secretKey: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /** False for a bad signature or a malformed key; never throws for those. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
}

// DER headers of an Ed25519 PKCS#8 private key (RFC 8410) and SPKI public key; the key follows.
const PKCS8_PREFIX = hexToBytes("0x302e020100300506032b657004220420");
const SPKI_PREFIX = hexToBytes("0x302a300506032b6570032100");
const KEY_CACHE_LIMIT = 1024;

const withPrefix = (prefix: Uint8Array, key: Uint8Array) => {
  const out = new Uint8Array(prefix.length + key.length);
  out.set(prefix);
  out.set(key, prefix.length);
  return out;
};

/** A bounded map from key bytes to the runtime's parsed key object; cleared when full. */
function keyCache<K>(parse: (bytes: Uint8Array) => K): (bytes: Uint8Array) => K {
  const cache = new Map<string, K>();
  return (bytes) => {
    const id = bytes.join(",");
    let key = cache.get(id);
    if (key === undefined) {
      if (cache.size >= KEY_CACHE_LIMIT) cache.clear();
      key = parse(bytes);
      cache.set(id, key);
    }
    return key;
  };
}

function checkSizes(secretOrPublic: Uint8Array, field: string) {
  if (!(secretOrPublic instanceof Uint8Array) || secretOrPublic.length !== 32) {
    throw new AllegroError("INVALID_FORMAT", `${field} must be 32 bytes`, { field });
  }
}

/**
 * The `@noble/ed25519` backend: pure JavaScript, available everywhere.
 *
 * @example
 * ```ts
 * import { nobleEd25519 } from "@allegro/client";
 *
 * const seed = crypto.getRandomValues(new Uint8Array(32));
 * const sig = await nobleEd25519.sign(seed, new Uint8Array(32));
 * ```
 */
export const nobleEd25519: Ed25519Backend = {
  name: "noble",
  getPublicKey(secretKey) {
    checkSizes(secretKey, "secret key");
    return noble.getPublicKeyAsync(secretKey);
  },
  sign(secretKey, message) {
    checkSizes(secretKey, "secret key");
    return noble.signAsync(message, secretKey);
  },
  async verify(signature, message, publicKey) {
    try {
      return await noble.verifyAsync(signature, message, publicKey);
    } catch {
      return false;
    }
  },
};

/**
 * The WebCrypto backend (`crypto.subtle` with the `Ed25519` algorithm).
 *
 * @example
 * ```ts
 * import { webCryptoEd25519 } from "@allegro/client";
 *
 * const seed = crypto.getRandomValues(new Uint8Array(32));
 * const publicKey = await webCryptoEd25519.getPublicKey(seed);
 * ```
 */
export const webCryptoEd25519: Ed25519Backend = (() => {
  const subtle = globalThis.crypto?.subtle;
  const privateKey = keyCache((seed) =>
    subtle.importKey("pkcs8", withPrefix(PKCS8_PREFIX, seed), "Ed25519", true, ["sign"])
  );
  const publicKey = keyCache((raw) =>
    subtle.importKey("raw", raw as BufferSource, "Ed25519", false, ["verify"])
  );
  return {
    name: "webcrypto",
    async getPublicKey(secretKey) {
      checkSizes(secretKey, "secret key");
      const jwk = await subtle.exportKey("jwk", await privateKey(secretKey));
      const b64 = jwk.x!.replace(/-/g, "+").replace(/_/g, "/") + "=";
      return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    },
    async sign(secretKey, message) {
      checkSizes(secretKey, "secret key");
      return new Uint8Array(
        await subtle.sign("Ed25519", await privateKey(secretKey), message as BufferSource),
      );
    },
    async verify(signature, message, key) {
      try {
        const k = await publicKey(key);
        return await subtle.verify(
          "Ed25519",
          k,
          signature as BufferSource,
          message as BufferSource,
        );
      } catch {
        return false;
      }
    },
  };
})();

interface NodeCrypto {
  createPrivateKey(o: { key: Uint8Array; format: "der"; type: "pkcs8" }): unknown;
  createPublicKey(o: unknown): unknown;
  sign(algorithm: null, data: Uint8Array, key: unknown): Uint8Array;
  verify(algorithm: null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
  // deno-lint-ignore no-explicit-any
  KeyObject: any;
}

function loadNodeCrypto(): NodeCrypto | undefined {
  const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
    .process;
  return process?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;
}

/**
 * The `node:crypto` backend, or `undefined` where the runtime has no `node:crypto` (browsers).
 *
 * @example
 * ```ts
 * import { nodeEd25519 } from "@allegro/client";
 *
 * console.log(nodeEd25519 ? "native Ed25519 available" : "no node:crypto here");
 * ```
 */
export const nodeEd25519: Ed25519Backend | undefined = (() => {
  const nodeCrypto = loadNodeCrypto();
  if (nodeCrypto === undefined) return undefined;
  const privateKey = keyCache((seed) =>
    nodeCrypto.createPrivateKey({
      key: withPrefix(PKCS8_PREFIX, seed),
      format: "der",
      type: "pkcs8",
    })
  );
  const publicKey = keyCache((raw) =>
    nodeCrypto.createPublicKey({ key: withPrefix(SPKI_PREFIX, raw), format: "der", type: "spki" })
  );
  return {
    name: "node",
    getPublicKey(secretKey) {
      checkSizes(secretKey, "secret key");
      const der = (nodeCrypto.createPublicKey(privateKey(secretKey)) as {
        export(o: { format: "der"; type: "spki" }): Uint8Array;
      }).export({ format: "der", type: "spki" });
      return Promise.resolve(new Uint8Array(der.subarray(SPKI_PREFIX.length)));
    },
    sign(secretKey, message) {
      checkSizes(secretKey, "secret key");
      return Promise.resolve(new Uint8Array(nodeCrypto.sign(null, message, privateKey(secretKey))));
    },
    verify(signature, message, key) {
      try {
        if (key.length !== 32 || signature.length !== 64) return Promise.resolve(false);
        return Promise.resolve(nodeCrypto.verify(null, message, publicKey(key), signature));
      } catch {
        return Promise.resolve(false);
      }
    },
  };
})();

let best: Promise<Ed25519Backend> | undefined;

async function supported(backend: Ed25519Backend): Promise<boolean> {
  try {
    const seed = new Uint8Array(32).fill(7);
    const msg = new Uint8Array(32);
    const [sig, pub] = await Promise.all([backend.sign(seed, msg), backend.getPublicKey(seed)]);
    return await backend.verify(sig, msg, pub);
  } catch {
    return false;
  }
}

/**
 * The fastest Ed25519 backend that works in this runtime, probed once: `node:crypto`, then
 * WebCrypto, then noble.
 *
 * @example
 * ```ts
 * import { ed25519 } from "@allegro/client";
 *
 * const backend = await ed25519();
 * const seed = crypto.getRandomValues(new Uint8Array(32));
 * const message = new Uint8Array(32);
 * const ok = await backend.verify(
 *   await backend.sign(seed, message),
 *   message,
 *   await backend.getPublicKey(seed),
 * );
 * ```
 */
export function ed25519(): Promise<Ed25519Backend> {
  best ??= (async () => {
    for (const backend of [nodeEd25519, webCryptoEd25519]) {
      if (backend && await supported(backend)) return backend;
    }
    return nobleEd25519;
  })();
  return best;
}
