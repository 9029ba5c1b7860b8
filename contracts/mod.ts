/**
 * `@allegro/contracts`: the compiled Allegro vault (SPEC §5) — its ABI, creation bytecode and the
 * compiler that produced them, generated from `src/AllegroVault.sol` by `deno task contracts`.
 * `@allegro/client` builds every vault call and decodes every vault event from this ABI.
 *
 * @example
 * ```ts
 * import { vaultAbi, vaultCompiler } from "@allegro/contracts";
 *
 * const settle = vaultAbi.find((item) => item.type === "function" && item.name === "settle");
 * console.log(vaultCompiler.settings.evmVersion, settle !== undefined); // cancun true
 * ```
 *
 * @module
 */
export { vaultAbi, vaultBytecode, vaultCompiler } from "./gen/vault.ts";
