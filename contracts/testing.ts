/**
 * Fixtures for the vault's tests and gas measurements (not part of the published package):
 *
 * - `testing/chain.ts`: a local Tempo chain (anvil, automine) whose time the test sets,
 *   transactions, reverts decoded into the vault's named custom errors, deadlines;
 * - `testing/accounts.ts`: funded accounts, wallet balances, a TIP-20 of the test's own;
 * - `testing/vault.ts`: vaults with n-member committees, signed orders, attestation QCs.
 *
 * @module
 */
export * from "./testing/chain.ts";
export * from "./testing/accounts.ts";
export * from "./testing/vault.ts";
