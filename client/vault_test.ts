/**
 * The TypeScript client and the deployed vault agree: `tx_hash`, `effects_hash`, `cert_digest`
 * and the EIP-712 digest of 200 random orders (random addresses, parent zero or not, exit, memo,
 * u64 extremes, random epochs) equal the contract's `txHash`, `effectsHash`, `certDigest` and
 * `orderDigest` views; and the reads and event decoding of `vault.ts` return what the contract
 * holds and emits.
 */
import assert from "node:assert/strict";
import { type Address, bytesToHex, getAddress, type Hex, zeroHash } from "viem";
import {
  decodeVaultEvents,
  depositForCalls,
  NO_PARENT,
  orderCertDigest,
  orderDigest,
  orderEffectsHash,
  orderTxHash,
  type PaymentOrder,
  paymentStruct,
  readAccount,
  readCommittee,
  readSettledTxHash,
  readVaultInfo,
  requestExitCall,
  settleCall,
  vaultAbi,
} from "./mod.ts";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { uniformBigInt } from "pure-rand/distribution/uniformBigInt";
import {
  addressesOf,
  ALPHA_USD,
  certify,
  deployTestVault,
  makeOrder,
  newAccount,
  newPayer,
  sendOk,
  startChain,
  step,
  type TestVault,
} from "../contracts/testing.ts";

const U64_MAX = (1n << 64n) - 1n;

/** Random fields from a seeded generator (pure-rand), so that a failure can be replayed. */
function generator(seed: number) {
  const rng = xoroshiro128plus(seed);
  const nextByte = () => uniformInt(rng, 0, 255);
  const hex = (bytes: number): Hex =>
    `0x${Array.from({ length: bytes }, () => nextByte().toString(16).padStart(2, "0")).join("")}`;
  // Edge values (0, 2^64 - 1 and their neighbours) half the time.
  const u64 = (): bigint => {
    const r = nextByte();
    if (r < 25) return 0n;
    if (r < 50) return U64_MAX;
    if (r < 75) return BigInt(nextByte());
    if (r < 90) return U64_MAX - BigInt(nextByte());
    return uniformBigInt(rng, 0n, U64_MAX);
  };
  return { nextByte, hex, u64, address: (): Address => getAddress(hex(20)) };
}

function randomOrder(g: ReturnType<typeof generator>, vault: TestVault): PaymentOrder {
  return {
    chainId: vault.chain.chainId,
    vault: vault.address,
    payer: g.address(),
    recipient: g.address(),
    token: g.nextByte() < 128 ? ALPHA_USD : g.address(),
    amount: g.u64(),
    fee: g.u64(),
    seq: g.u64(),
    validBefore: g.u64(),
    parent: g.nextByte() < 128 ? NO_PARENT : g.hex(32),
    exit: g.nextByte() < 128,
    memo: g.nextByte() < 64 ? zeroHash : g.hex(32),
  };
}

Deno.test("client and vault agree", async (t) => {
  await using chain = await startChain();
  const vault = await deployTestVault(chain, { n: 4, maxValidity: 30_000n, exitDelay: 31n });

  await step(
    t,
    "tx_hash, effects_hash, cert_digest and EIP-712 digest of 200 random orders",
    async () => {
      const seed = Number(
        Deno.env.get("VAULT_AGREEMENT_SEED") ?? Math.floor(Math.random() * 2 ** 31),
      );
      const g = generator(seed);
      const orders = Array.from({ length: 200 }, () => randomOrder(g, vault));
      const view = (functionName: "txHash" | "effectsHash" | "orderDigest", o: PaymentOrder) =>
        chain.client.readContract({
          address: vault.address,
          abi: vaultAbi,
          functionName,
          args: [paymentStruct(o)],
        });
      let parents = 0;
      for (let i = 0; i < orders.length; i += 20) {
        await Promise.all(
          orders.slice(i, i + 20).map(async (o, j) => {
            const what = `order ${i + j} (seed ${seed})`;
            const epoch = g.u64();
            const [tx, effects, digest] = await Promise.all([
              view("txHash", o),
              view("effectsHash", o),
              view("orderDigest", o),
            ]);
            assert.equal(tx, bytesToHex(orderTxHash(o)), `${what}: tx_hash`);
            assert.equal(effects, bytesToHex(orderEffectsHash(o)), `${what}: effects_hash`);
            assert.equal(digest, orderDigest(o), `${what}: EIP-712 digest`);
            const cert = await chain.client.readContract({
              address: vault.address,
              abi: vaultAbi,
              functionName: "certDigest",
              args: [epoch, tx, effects],
            });
            assert.equal(cert, bytesToHex(orderCertDigest(o, epoch)), `${what}: cert_digest`);
            if (o.parent !== NO_PARENT) parents++;
          }),
        );
      }
      assert.ok(parents > 50 && parents < 150, `${parents} of 200 with a parent`);
    },
  );

  await step(t, "readVaultInfo and readCommittee read what the constructor set", async () => {
    const info = await readVaultInfo(chain.client, vault.address);
    assert.deepEqual(
      {
        admin: info.admin,
        maxValidity: info.maxValidity,
        exitDelay: info.exitDelay,
        currentEpoch: info.currentEpoch,
        graceEnd: info.graceEnd,
      },
      {
        admin: vault.admin.address,
        maxValidity: 30_000n,
        exitDelay: 31n,
        currentEpoch: 1n,
        graceEnd: 0n,
      },
    );
    const logs = await chain.client.getLogs({
      address: vault.address,
      fromBlock: info.deployBlock,
      toBlock: info.deployBlock,
    });
    const [created] = decodeVaultEvents(logs);
    assert.ok(created.kind === "CommitteeSet");
    assert.deepEqual(created.members, addressesOf(vault.keys.get(1n)!));
    assert.deepEqual(await readCommittee(chain.client, vault.address, 1n), {
      members: addressesOf(vault.keys.get(1n)!),
      threshold: 3,
    });
    assert.deepEqual(await readCommittee(chain.client, vault.address, 2n), {
      members: [],
      threshold: 0,
    });
  });

  await step(
    t,
    "readAccount, readSettledTxHash and the decoded events follow a payment",
    async () => {
      const payer = await newPayer(vault, 0n, { wallet: 5_000n });
      const beneficiary = await newAccount(chain);
      const deposit = await sendOk(
        chain,
        payer,
        depositForCalls(vault.address, beneficiary.address, ALPHA_USD, 5_000n),
      );
      const [deposited] = decodeVaultEvents(deposit.logs);
      assert.ok(deposited.kind === "Deposited");
      assert.deepEqual(
        [deposited.account, deposited.token, deposited.from, deposited.amount],
        [beneficiary.address, ALPHA_USD, payer.address, 5_000n],
      );
      assert.equal(deposited.transactionHash, deposit.transactionHash);
      assert.equal(deposited.blockNumber, deposit.blockNumber);
      const item = await certify(
        vault,
        beneficiary,
        await makeOrder(vault, beneficiary.address, { amount: 1_000n, seq: 3n }),
      );
      assert.equal(
        await readSettledTxHash(chain.client, vault.address, beneficiary.address, ALPHA_USD, 3n),
        undefined,
      );
      await sendOk(chain, beneficiary, [settleCall(vault.address, item)]);
      assert.equal(
        await readSettledTxHash(chain.client, vault.address, beneficiary.address, ALPHA_USD, 3n),
        bytesToHex(orderTxHash(item.signed.order)),
      );
      const request = await sendOk(chain, beneficiary, [
        requestExitCall(vault.address, ALPHA_USD, 300n),
      ]);
      const [requested] = decodeVaultEvents(request.logs);
      assert.ok(requested.kind === "ExitRequested");
      assert.deepEqual(
        await readAccount(chain.client, vault.address, beneficiary.address, ALPHA_USD),
        {
          balance: 4_000n,
          exit: { amount: 300n, readyAt: requested.readyAt },
        },
      );
      assert.deepEqual(
        await readAccount(chain.client, vault.address, payer.address, ALPHA_USD),
        { balance: 0n },
      );
    },
  );
});
