/**
 * Faster secp256k1 sender recovery for {@linkcode decodePayment}: libsecp256k1 itself, through
 * Deno's FFI when the sidecar may load it (`--allow-ffi`) and the system has it (Debian:
 * `libsecp256k1-1`), else libsecp256k1 compiled to WebAssembly (`tiny-secp256k1`), else the
 * pure-JS recovery of `viem` / `ox`. All three give identical results (`secp256k1_test.ts`);
 * measured on the benchmark machine: ~55 µs (FFI), ~300 µs (WASM), ~750 µs (JS) per recovery.
 *
 * @module
 */
import { type Secp256k1Recovery, useSecp256k1Recovery } from "@allegro/client";

/**
 * Names under which the dynamic loader may know libsecp256k1, tried in order.
 *
 * @example
 * ```ts
 * import { LIBSECP256K1_NAMES } from "@allegro/sidecar/secp256k1";
 *
 * console.log(LIBSECP256K1_NAMES.includes("libsecp256k1.so.2")); // true
 * ```
 */
export const LIBSECP256K1_NAMES: readonly string[] = [
  "libsecp256k1.so.1",
  "libsecp256k1.so.2",
  "libsecp256k1.so.6",
  "libsecp256k1.so",
  "libsecp256k1.dylib",
  "/opt/homebrew/lib/libsecp256k1.dylib",
  "/usr/local/lib/libsecp256k1.dylib",
];

// SECP256K1_CONTEXT_VERIFY | SECP256K1_CONTEXT_SIGN: what libsecp256k1 before 0.2 needs for
// recovery and signing (0.2 and later ignore the flags).
const CONTEXT_FLAGS = 1 | (1 << 8) | (1 << 9);
const EC_UNCOMPRESSED = 1 << 1;

const SYMBOLS = {
  secp256k1_context_create: { parameters: ["u32"], result: "pointer" },
  secp256k1_ecdsa_recoverable_signature_parse_compact: {
    parameters: ["pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  secp256k1_ecdsa_recover: {
    parameters: ["pointer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  secp256k1_ec_pubkey_serialize: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "u32"],
    result: "i32",
  },
  secp256k1_ecdsa_sign_recoverable: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "pointer", "pointer"],
    result: "i32",
  },
  secp256k1_ecdsa_recoverable_signature_serialize_compact: {
    parameters: ["pointer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
} as const;

/** libsecp256k1 recovery plus recoverable signing (the benchmark signs its payments with it). */
export interface NativeSecp256k1 extends Secp256k1Recovery {
  /** A low-s RFC 6979 signature `r || s` and its recovery id, or `undefined` for a bad key. */
  sign(payload: Uint8Array, secretKey: Uint8Array): { signature: Uint8Array; recoveryId: number };
}

const granted = (name: "ffi" | "read"): boolean => {
  try {
    return Deno.permissions.querySync({ name }).state === "granted";
  } catch {
    return false;
  }
};

let ffi: NativeSecp256k1 | null | undefined;

/**
 * libsecp256k1 through FFI, or `undefined` without `--allow-ffi` or without the library.
 *
 * @example
 * ```ts ignore
 * const native = ffiSecp256k1();
 * console.log(native ? "libsecp256k1 via FFI" : "not available");
 * ```
 */
export function ffiSecp256k1(): NativeSecp256k1 | undefined {
  if (ffi !== undefined) return ffi ?? undefined;
  ffi = null;
  if (typeof Deno?.dlopen !== "function" || !granted("ffi")) return undefined;
  for (const name of LIBSECP256K1_NAMES) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(name, SYMBOLS);
    } catch {
      continue;
    }
    const s = lib.symbols;
    const context = s.secp256k1_context_create(CONTEXT_FLAGS);
    if (context === null) {
      lib.close();
      continue;
    }
    const parsed = new Uint8Array(65);
    const point = new Uint8Array(64);
    const length = new BigUint64Array(1);
    const lengthBytes = new Uint8Array(length.buffer);
    const recoveryId = new Int32Array(1);
    const recoveryIdBytes = new Uint8Array(recoveryId.buffer);
    ffi = {
      name: "ffi",
      recover(payload, signature, id) {
        if (payload.length !== 32 || signature.length !== 64) return undefined;
        if (
          !s.secp256k1_ecdsa_recoverable_signature_parse_compact(context, parsed, signature, id)
        ) {
          return undefined;
        }
        if (!s.secp256k1_ecdsa_recover(context, point, parsed, payload)) return undefined;
        const out = new Uint8Array(65);
        length[0] = 65n;
        s.secp256k1_ec_pubkey_serialize(context, out, lengthBytes, point, EC_UNCOMPRESSED);
        return out;
      },
      sign(payload, secretKey) {
        if (payload.length !== 32 || secretKey.length !== 32) throw new Error("bad sizes");
        if (!s.secp256k1_ecdsa_sign_recoverable(context, parsed, payload, secretKey, null, null)) {
          throw new Error("secp256k1 signing failed (invalid secret key)");
        }
        const signature = new Uint8Array(64);
        s.secp256k1_ecdsa_recoverable_signature_serialize_compact(
          context,
          signature,
          recoveryIdBytes,
          parsed,
        );
        return { signature, recoveryId: recoveryId[0] };
      },
    };
    return ffi;
  }
  return undefined;
}

/**
 * libsecp256k1 compiled to WebAssembly (`tiny-secp256k1`, which reads its `.wasm` from the npm
 * cache: needs read permission), or `undefined` where it does not load (a bundle without the
 * file, no read permission).
 *
 * @example
 * ```ts ignore
 * const wasm = await wasmSecp256k1();
 * ```
 */
export async function wasmSecp256k1(): Promise<NativeSecp256k1 | undefined> {
  if (!granted("read")) return undefined;
  try {
    const tiny = await import("tiny-secp256k1");
    return {
      name: "wasm",
      recover(payload, signature, id) {
        try {
          return tiny.recover(payload, signature, id, false) ?? undefined;
        } catch (e) {
          // tiny-secp256k1 refuses some inputs (an `r` off the curve) before recovering: no key.
          if (e instanceof TypeError) return undefined;
          throw e;
        }
      },
      sign(payload, secretKey) {
        const { signature, recoveryId } = tiny.signRecoverable(payload, secretKey);
        return { signature, recoveryId };
      },
    };
  } catch {
    return undefined;
  }
}

/**
 * Installs the fastest secp256k1 recovery available here into {@linkcode decodePayment} and
 * returns its name: `"ffi"`, `"wasm"` or `"js"`. `prefer` limits the choice (for benchmarks).
 *
 * @example
 * ```ts ignore
 * log.info("secp256k1 recovery", { backend: await enableNativeSecp256k1() });
 * ```
 */
export async function enableNativeSecp256k1(
  prefer: "ffi" | "wasm" | "js" | "auto" = "auto",
): Promise<string> {
  let backend: Secp256k1Recovery | undefined;
  if (prefer === "auto" || prefer === "ffi") backend = ffiSecp256k1();
  if (backend === undefined && (prefer === "auto" || prefer === "wasm")) {
    backend = await wasmSecp256k1();
  }
  useSecp256k1Recovery(backend);
  return backend?.name ?? "js";
}
