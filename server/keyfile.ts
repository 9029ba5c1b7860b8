/**
 * Key files, written with mode 0600 and refused when the group or others can read them:
 *
 * - a **validator key** (`sidecar keygen`): JSON `{ "secret_key", "public_key",
 *   "settlement_key", "settlement_address" }` — the Ed25519 key that signs certificates (its
 *   public key is the validator id) and the secp256k1 settlement key that attests them for the
 *   vault (it signs nothing else);
 * - an **account key** (a settler's or the vault admin's): JSON `{ "private_key", "address" }`,
 *   a secp256k1 key that sends Tempo transactions.
 *
 * @module
 */
import { type Address, bytesToHex, getAddress, type Hex, hexToBytes, isHex } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { ed25519 } from "@allegro/client";

/** A loaded validator key. */
export interface ValidatorKey {
  /** The Ed25519 seed. */
  readonly secretKey: Uint8Array;
  /** The validator id. */
  readonly publicKey: Uint8Array;
  /** The secp256k1 settlement key and its address. */
  readonly settlementKey: Hex;
  readonly settlementAddress: Address;
}

/** A loaded account key. */
export interface AccountKey {
  readonly privateKey: Hex;
  readonly address: Address;
}

async function writeSecret(path: string, doc: Record<string, string>): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(doc) + "\n", { createNew: true, mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

async function readSecret(path: string, what: string): Promise<Record<string, unknown>> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new Error(`${what} ${path} cannot be read: ${(e as Error).message}`);
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new Error(
      `${what} ${path} has mode ${
        (info.mode & 0o777).toString(8)
      }; it must not be readable by group or others (chmod 600 ${path})`,
    );
  }
  try {
    const doc = JSON.parse(await Deno.readTextFile(path));
    if (typeof doc !== "object" || doc === null) throw new Error("not an object");
    return doc;
  } catch (e) {
    throw new Error(`${what} ${path} is not a JSON object: ${(e as Error).message}`);
  }
}

function hexField(doc: Record<string, unknown>, name: string, bytes: number, path: string): Hex {
  const v = doc[name];
  if (typeof v !== "string" || !isHex(v, { strict: true }) || v.length !== 2 + 2 * bytes) {
    throw new Error(`key file ${path}: ${name} must be ${bytes} bytes of 0x-hex`);
  }
  return v;
}

/**
 * Creates a new validator key and writes it to `path` (mode 0600; fails if the file exists).
 *
 * @example
 * ```ts ignore
 * const { publicKey, settlementAddress } = await writeKeyFile("dave.key");
 * ```
 */
export async function writeKeyFile(path: string): Promise<ValidatorKey> {
  const secretKey = crypto.getRandomValues(new Uint8Array(32));
  const publicKey = await (await ed25519()).getPublicKey(secretKey);
  const settlementKey = generatePrivateKey();
  const settlementAddress = privateKeyToAddress(settlementKey);
  await writeSecret(path, {
    secret_key: bytesToHex(secretKey),
    public_key: bytesToHex(publicKey),
    settlement_key: settlementKey,
    settlement_address: settlementAddress,
  });
  return { secretKey, publicKey, settlementKey, settlementAddress };
}

/**
 * Reads a validator key file, refusing one that is group- or world-accessible, or whose public
 * key or settlement address does not belong to its secret.
 *
 * @example
 * ```ts ignore
 * const key = await readKeyFile("dave.key");
 * ```
 */
export async function readKeyFile(path: string): Promise<ValidatorKey> {
  const doc = await readSecret(path, "key file");
  const secretKey = hexToBytes(hexField(doc, "secret_key", 32, path));
  const publicKey = hexToBytes(hexField(doc, "public_key", 32, path));
  const settlementKey = hexField(doc, "settlement_key", 32, path);
  const derived = await (await ed25519()).getPublicKey(secretKey);
  if (bytesToHex(derived) !== bytesToHex(publicKey)) {
    throw new Error(`key file ${path}: public_key does not belong to secret_key`);
  }
  const settlementAddress = privateKeyToAddress(settlementKey);
  if (
    typeof doc.settlement_address !== "string" ||
    getAddress(doc.settlement_address) !== settlementAddress
  ) {
    throw new Error(`key file ${path}: settlement_address does not belong to settlement_key`);
  }
  if (bytesToHex(secretKey) === settlementKey) {
    throw new Error(`key file ${path}: the settlement key must differ from the Ed25519 key`);
  }
  return { secretKey, publicKey, settlementKey, settlementAddress };
}

/**
 * Writes an account key (a new one, or `privateKey`) to `path` (mode 0600; fails if it exists).
 *
 * @example
 * ```ts ignore
 * const { address } = await writeAccountKeyFile("settler.key");
 * ```
 */
export async function writeAccountKeyFile(path: string, privateKey?: Hex): Promise<AccountKey> {
  const key = privateKey ?? generatePrivateKey();
  const address = privateKeyToAddress(key);
  await writeSecret(path, { private_key: key, address });
  return { privateKey: key, address };
}

/**
 * Reads an account key file, refusing one that is group- or world-accessible or whose address
 * does not belong to its key.
 *
 * @example
 * ```ts ignore
 * const settler = await readAccountKeyFile("settler.key");
 * ```
 */
export async function readAccountKeyFile(path: string): Promise<AccountKey> {
  const doc = await readSecret(path, "account key file");
  const privateKey = hexField(doc, "private_key", 32, path);
  const address = privateKeyToAddress(privateKey);
  if (
    doc.address !== undefined &&
    (typeof doc.address !== "string" || getAddress(doc.address) !== address)
  ) {
    throw new Error(`key file ${path}: address does not belong to private_key`);
  }
  return { privateKey, address };
}
