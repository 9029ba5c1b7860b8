/**
 * Demo accounts of a local development network: named, funded keys that the web UI offers to
 * pick from. The file holds **private keys** and the backend hands them to anyone who asks
 * (`GET /api/v1/demo/accounts`), so only a local dev network (`deno task net`,
 * `deno task demo --keep-running`) ever sets `--demo-accounts`.
 *
 * The file is JSON: `{ "accounts": [{ "name", "address", "private_key" }] }`, written with mode
 * 0600 by the local network launcher and read by the backend.
 *
 * @module
 */
import { getAddress, type Hex, isHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** A named account of a local dev network, with its key. */
export interface DemoAccount {
  readonly name: string;
  readonly address: Hex;
  readonly privateKey: Hex;
}

/**
 * Writes `accounts` to `path` (mode 0600).
 *
 * @example
 * ```ts ignore
 * await writeDemoAccounts(`${dataDir}/demo-accounts.json`, [{ name: "alice", address, privateKey }]);
 * ```
 */
export async function writeDemoAccounts(
  path: string,
  accounts: readonly DemoAccount[],
): Promise<void> {
  const doc = {
    note: "local development network only: these keys are handed out by the backend",
    accounts: accounts.map((a) => ({
      name: a.name,
      address: a.address,
      private_key: a.privateKey,
    })),
  };
  await Deno.writeTextFile(path, JSON.stringify(doc, null, 2) + "\n", { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

/**
 * Reads and checks a demo accounts file: names unique, keys 32 bytes of hex, each address the
 * one its key controls. Throws naming the file and the entry.
 *
 * @example
 * ```ts ignore
 * const accounts = await loadDemoAccounts("demo-accounts.json");
 * ```
 */
export async function loadDemoAccounts(path: string): Promise<DemoAccount[]> {
  const doc = JSON.parse(await Deno.readTextFile(path));
  if (!Array.isArray(doc?.accounts)) throw new Error(`${path}: "accounts" must be an array`);
  const names = new Set<string>();
  return doc.accounts.map((entry: Record<string, unknown>, i: number) => {
    const where = `${path}: accounts[${i}]`;
    const { name, address, private_key: key } = entry ?? {};
    if (typeof name !== "string" || name === "" || names.has(name)) {
      throw new Error(`${where}.name must be a unique non-empty string`);
    }
    names.add(name);
    if (typeof key !== "string" || !isHex(key) || key.length !== 66) {
      throw new Error(`${where}.private_key must be 32 bytes of 0x hex`);
    }
    const derived = privateKeyToAccount(key as Hex).address;
    if (typeof address !== "string" || getAddress(address) !== derived) {
      throw new Error(`${where}.address is not the address of its private key (${derived})`);
    }
    return { name, address: derived, privateKey: key as Hex };
  });
}
