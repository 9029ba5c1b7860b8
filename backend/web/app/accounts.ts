/**
 * The accounts a person can pay from: the demo accounts of a local network (from the backend)
 * and keys created or imported here, which never leave the browser (`localStorage`).
 *
 * @module
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { type Address, getAddress, type Hex, isHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { api } from "./api.ts";

/** An account with its key. */
export interface Account {
  readonly name: string;
  readonly address: Address;
  readonly privateKey: Hex;
  /** A demo account of the local network (else a key of this browser). */
  readonly demo: boolean;
}

/** The accounts, the selected one, and what can be done with them. */
export interface Accounts {
  /** Demo accounts first, then this browser's keys. */
  readonly all: readonly Account[];
  readonly selected: Account | undefined;
  select(address: Address): void;
  /** Creates a key named `Key N`, selects it and returns it. */
  create(): Account;
  /** Imports a private key (0x + 64 hex digits); throws in words when it is not one. */
  importKey(name: string, privateKey: string): Account;
  /** Forgets a key of this browser. */
  remove(address: Address): void;
  /** The name of a known address, else `undefined`. */
  nameOf(address: string): string | undefined;
}

const KEYS = "allegro.keys.v1";
const SELECTED = "allegro.selected.v1";

function storedKeys(): Account[] {
  try {
    const raw = JSON.parse(localStorage.getItem(KEYS) ?? "[]") as { name: string; key: Hex }[];
    return raw.map((k) => ({
      name: k.name,
      privateKey: k.key,
      address: privateKeyToAccount(k.key).address,
      demo: false,
    }));
  } catch {
    return [];
  }
}

function storeKeys(keys: readonly Account[]): void {
  localStorage.setItem(
    KEYS,
    JSON.stringify(keys.map((k) => ({ name: k.name, key: k.privateKey }))),
  );
}

/** Loads the accounts (demo accounts from the backend once) and keeps the selection. */
export function useAccountsState(): Accounts {
  const [demo, setDemo] = useState<Account[]>([]);
  const [keys, setKeys] = useState<Account[]>(storedKeys);
  const [selectedAddress, setSelectedAddress] = useState(() => localStorage.getItem(SELECTED));

  useEffect(() => {
    api.demoAccounts().then((r) =>
      setDemo(r.accounts.map((a) => ({
        name: a.name,
        address: getAddress(a.address),
        privateKey: a.private_key as Hex,
        demo: true,
      })))
    ).catch(() => {}); // not a local dev network: no demo accounts
  }, []);

  const select = useCallback((address: Address) => {
    localStorage.setItem(SELECTED, address);
    setSelectedAddress(address);
  }, []);

  const add = useCallback((account: Account) => {
    setKeys((before) => {
      const next = [...before.filter((k) => k.address !== account.address), account];
      storeKeys(next);
      return next;
    });
    select(account.address);
    return account;
  }, [select]);

  return useMemo(() => {
    const all = [...demo, ...keys];
    const selected = all.find((a) => a.address === selectedAddress) ?? all[0];
    return {
      all,
      selected,
      select,
      create: () => {
        const privateKey = generatePrivateKey();
        return add({
          name: `Key ${keys.length + 1}`,
          privateKey,
          address: privateKeyToAccount(privateKey).address,
          demo: false,
        });
      },
      importKey: (name: string, privateKey: string) => {
        const key = privateKey.trim().startsWith("0x")
          ? privateKey.trim()
          : `0x${privateKey.trim()}`;
        if (!isHex(key) || key.length !== 66) {
          throw new Error("A private key is 64 hex digits (32 bytes), optionally after 0x.");
        }
        return add({
          name: name.trim() || `Imported ${keys.length + 1}`,
          privateKey: key as Hex,
          address: privateKeyToAccount(key as Hex).address,
          demo: false,
        });
      },
      remove: (address: Address) => {
        const next = keys.filter((k) => k.address !== address);
        storeKeys(next);
        setKeys(next);
      },
      nameOf: (address: string) =>
        all.find((a) => a.address.toLowerCase() === address.toLowerCase())?.name,
    };
  }, [demo, keys, selectedAddress, select, add]);
}

/** The page's accounts. */
export const AccountsContext = createContext<Accounts | null>(null);

/** The page's accounts (inside `<AccountsContext>`). */
export function useAccounts(): Accounts {
  const accounts = useContext(AccountsContext);
  if (!accounts) throw new Error("useAccounts outside <AccountsContext>");
  return accounts;
}
