/**
 * Four sidecar processes against anvil in Tempo mode, no backend: a payment and a payment
 * chained on it get QCs through the client's own fan-out, the sidecars' settlers settle both on
 * the vault (the parent first), and the vault's balances end where the payments say, with every
 * token the vault holds accounted for.
 */
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { type Address, createPublicClient, http, parseAbi } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  AllegroClient,
  loadCommittee,
  readAccount,
  readSettledTxHash,
  Wallet,
} from "@allegro/client";
import { PATH_USD } from "@allegro/server/anvil";
import { fundAndDeposit, startLocalNetwork } from "@allegro/server/local-network";

const USD = 1_000_000n;

Deno.test({
  name: "four sidecars certify a payment and a chained one before the next block, and settle both",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const net = await startLocalNetwork({ validators: 4, blockTimeSeconds: 1, backend: false });
  try {
    const [alice, bob, carol] = [0, 1, 2].map(() => generatePrivateKey());
    await Promise.all([
      fundAndDeposit(net, alice, { wallet: 20n * USD, deposit: 15n * USD }),
      fundAndDeposit(net, bob, { wallet: 6n * USD, deposit: 5n * USD }),
    ]);
    const committee = await loadCommittee(pathToFileURL(net.committee.path));
    const client = (key: `0x${string}`) =>
      new AllegroClient({ committee, wallet: new Wallet(privateKeyToAccount(key)) });
    const [a, b] = [client(alice), client(bob)];
    const carolAddress = privateKeyToAccount(carol).address;

    const first = await a.pay({ to: b.wallet.address, amount: 10n * USD });
    assert.equal(first.qc.certificates.length >= committee.threshold, true);
    const second = await b.pay({ to: carolAddress, amount: 10n * USD, parent: first });
    assert.equal(second.signed.order.parent, first.txHash);

    const chain = createPublicClient({ transport: http(net.rpcUrl) });
    const vault = net.committee.vault;
    const settled = async (payer: Address, seq: bigint) =>
      await readSettledTxHash(chain, vault, payer, PATH_USD, seq);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const [one, two] = await Promise.all([
        settled(a.wallet.address, 0n),
        settled(b.wallet.address, 0n),
      ]);
      if (one && two) {
        assert.equal(one, first.txHash);
        assert.equal(two, second.txHash);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(Date.now() < deadline, "both payments settled within 30 s");
    const balance = async (who: Address) =>
      (await readAccount(chain, vault, who, PATH_USD)).balance;
    assert.equal(await balance(a.wallet.address), 5n * USD);
    assert.equal(await balance(b.wallet.address), 5n * USD);
    assert.equal(await balance(carolAddress), 10n * USD);
    const held = await chain.readContract({
      address: PATH_USD,
      abi: parseAbi(["function balanceOf(address) view returns (uint256)"]),
      functionName: "balanceOf",
      args: [vault],
    });
    assert.equal(
      held,
      20n * USD,
      "the vault holds exactly what its accounts own (no fees were set)",
    );
  } finally {
    await net.stop();
  }
});
