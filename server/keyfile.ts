/**
 * Validator key files: JSON `{ "secret_key": hex, "public_key": hex }` written with mode 0600
 * (by `sidecar keygen` and the local network launcher). A sidecar refuses a key file that its
 * group or others can read.
 *
 * @module
 */
import { bytesToHex, hexToBytes, isHex } from "viem";
import { ed25519 } from "@allegro/client";

/** A loaded validator key. */
export interface ValidatorKey {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * Creates a new key and writes it to `path` (mode 0600; fails if the file exists).
 *
 * @example
 * ```ts ignore
 * const { publicKey } = await writeKeyFile("dave.key");
 * ```
 */
export async function writeKeyFile(path: string): Promise<ValidatorKey> {
  const secretKey = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = await (await ed25519()).getPublicKey(secretKey);
  const text = JSON.stringify({
    secret_key: bytesToHex(secretKey),
    public_key: bytesToHex(publicKey),
  }) + "\n";
  await Deno.writeTextFile(path, text, { createNew: true, mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return { secretKey, publicKey };
}

/**
 * Reads a key file, refusing one that is group- or world-accessible or whose public key does
 * not match its secret key.
 *
 * @example
 * ```ts ignore
 * const key = await readKeyFile("dave.key");
 * ```
 */
export async function readKeyFile(path: string): Promise<ValidatorKey> {
  const info = await Deno.stat(path);
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new Error(
      `key file ${path} has mode ${
        (info.mode & 0o777).toString(8)
      }; it must not be readable by group or others (chmod 600 ${path})`,
    );
  }
  let doc: { secret_key?: unknown; public_key?: unknown };
  try {
    doc = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(`key file ${path} is not JSON: ${(e as Error).message}`);
  }
  const field = (name: "secret_key" | "public_key") => {
    const v = doc[name];
    if (typeof v !== "string" || !isHex(v) || v.length !== 66) {
      throw new Error(`key file ${path}: ${name} must be 32 bytes of 0x-hex`);
    }
    return hexToBytes(v);
  };
  const secretKey = field("secret_key");
  const publicKey = field("public_key");
  const derived = await (await ed25519()).getPublicKey(secretKey);
  if (bytesToHex(derived) !== bytesToHex(publicKey)) {
    throw new Error(`key file ${path}: public_key does not belong to secret_key`);
  }
  return { secretKey, publicKey };
}
