/**
 * Loaded in headless Chromium by `browser_test.ts` (bundled for the browser from `mod.ts`):
 * builds and signs a payment, decodes it, signs and verifies a certificate, reserves nonces, and
 * publishes the results as `globalThis.allegroSelfTest()`.
 */
import { bytesToHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  AllegroClient,
  allegroNonceKey,
  certificateProblem,
  CertificateSigner,
  decodePayment,
  ed25519,
  MemoryNonceStore,
  parseCommittee,
  paymentEffectsHash,
  paymentTxHash,
  signPaymentTransaction,
  Wallet,
} from "../mod.ts";

/** The fixed inputs; the test computes the same in Deno and compares. */
export const PAYER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
export const VALIDATOR_SEED = new Uint8Array(32).fill(7);

async function selfTest() {
  const account = privateKeyToAccount(PAYER_KEY);
  const wallet = new Wallet(account, { store: new MemoryNonceStore() });
  const reservation = await wallet.reserve();
  const signedTx = await signPaymentTransaction(account, {
    chainId: 1337n,
    token: "0x20c0000000000000000000000000000000000000",
    recipient: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    amount: 1_250_000n,
    memo: `0x${"11".repeat(32)}`,
    nonceKey: reservation.nonceKey,
    nonce: reservation.nonce,
    validBefore: 1_900_000_000n,
    gas: 100_000n,
    maxFeePerGas: 20_000_000_000n,
    maxPriorityFeePerGas: 0n,
    feeToken: "0x20c0000000000000000000000000000000000000",
  });
  const payment = decodePayment(signedTx, { chainId: 1337n });
  const txHash = paymentTxHash(payment);
  const effectsHash = paymentEffectsHash(payment);
  const signer = await CertificateSigner.create(VALIDATOR_SEED, { chainId: 1337n, epoch: 1n });
  const certificate = await signer.sign(txHash, effectsHash, 1000n);
  const committee = parseCommittee({
    chain_id: 1337,
    epoch: 1,
    validators: [{
      name: "dave",
      pubkey: bytesToHex(signer.publicKey),
      endpoint: "http://127.0.0.1:9",
    }],
  });
  const tampered = { ...certificate, effectsHash: new Uint8Array(32) };
  // The high-level client constructs in the browser (no request is made).
  const client = new AllegroClient({ committee, wallet });
  return {
    userAgent: navigator.userAgent,
    ed25519Backend: (await ed25519()).name,
    signedTx,
    sender: payment.sender,
    recipient: payment.recipient,
    amount: payment.amount.toString(),
    nonceKeyIsAllegro: reservation.nonceKey === allegroNonceKey(1n),
    memo: bytesToHex(payment.memo!),
    txHash: bytesToHex(txHash),
    signature: bytesToHex(certificate.signature),
    certificateProblem: (await certificateProblem(committee, certificate)) ?? null,
    tamperedProblem: (await certificateProblem(committee, tampered)) ?? null,
    nextNonce: (await wallet.reserve()).nonce.toString(),
    sidecars: client.sidecars.length,
  };
}

const target = globalThis as { allegroSelfTest?: typeof selfTest };
target.allegroSelfTest = selfTest;
