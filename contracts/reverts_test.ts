/**
 * Every way `settle`, `deposit`, `settleFor` and the constructor refuse, each with its named
 * custom error and arguments, decoded from the reverted transaction's trace: expiry at the exact
 * millisecond, payer signatures (someone else's, high `s`, bad `v`, recovering to 0), each order
 * field changed under the original signatures, malformed QCs, a balance one unit short, invalid
 * orders and deposits, bad constructor arguments. Each case ends with the valid variant
 * succeeding, so that a refusal is the field's doing and not a broken fixture's.
 *
 * Committee changes (`setCommittee`, retired epochs), contention keys, parents and forced exits
 * have their own files.
 */
import assert from "node:assert/strict";
import {
  type Address,
  decodeFunctionData,
  encodeFunctionData,
  hexToBytes,
  zeroAddress,
} from "viem";
import {
  deployVaultCall,
  depositCalls,
  depositForCalls,
  orderTypedData,
  type PaymentOrder,
  readSettledTxHash,
  settleCall,
  type SettleItem,
  type TempoCall,
  vaultAbi,
} from "@allegro/client";
import {
  addressesOf,
  ALPHA_USD,
  assertError,
  attest,
  BETA_USD,
  callRevert,
  certify,
  DEPLOY_GAS,
  deployTestVault,
  deposit,
  highS,
  latestTimestamp,
  makeOrder,
  newAccount,
  newPayer,
  sendOk,
  sendReverting,
  settleForCall,
  settlementKeys,
  startChain,
  step,
  testAccount,
  type TestVault,
  txHashOf,
  vaultBalance,
  withPayerSignature,
  withV,
  ZERO_SIGNER_SIGNATURE,
} from "./testing.ts";

Deno.test("vault refuses with a named error", async (t) => {
  await using chain = await startChain();
  const vault = await deployTestVault(chain, { n: 4 });
  const settler = await newAccount(chain);
  const settle = (item: SettleItem) =>
    sendReverting(chain, settler, [settleCall(vault.address, item)]);

  await step(t, "an order expires at the exact millisecond: chain time < validBefore", async () => {
    const payer = await newPayer(vault, 10_000n);
    const at = await latestTimestamp(chain) + 5n;
    const onTheDot = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, { seq: 0n, validBefore: at * 1000n }),
    );
    const oneMsLater = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, { seq: 1n, validBefore: at * 1000n + 1n }),
    );
    // One second earlier, the first would still settle.
    assert.equal(
      await callRevert(chain, settler.address, settleCall(vault.address, onTheDot), {
        timestamp: at - 1n,
      }),
      undefined,
    );
    assertError(
      await sendReverting(chain, settler, [settleCall(vault.address, onTheDot)], { timestamp: at }),
      "OrderExpired",
      [at * 1000n, at * 1000n],
    );
    assert.equal(await latestTimestamp(chain), at);
    await sendOk(chain, settler, [settleCall(vault.address, oneMsLater)], { timestamp: at });
    assert.equal(await latestTimestamp(chain), at);
    assert.equal(
      await readSettledTxHash(chain.client, vault.address, payer.address, ALPHA_USD, 0n),
      undefined,
    );
    assert.equal(
      await readSettledTxHash(chain.client, vault.address, payer.address, ALPHA_USD, 1n),
      txHashOf(oneMsLater.signed.order),
    );
  });

  await step(
    t,
    "the payer's signature: someone else's, high s, bad v, recovering to 0",
    async () => {
      const payer = await newPayer(vault, 10_000n);
      const item = await certify(vault, payer, await makeOrder(vault, payer.address));
      const other = testAccount("someone else");
      const othersSignature = await other.signTypedData(orderTypedData(item.signed.order));
      const sig = item.signed.signature;
      assertError(await settle(withPayerSignature(item, othersSignature)), "InvalidPayerSignature");
      assertError(await settle(withPayerSignature(item, highS(sig))), "NonCanonicalSignature");
      for (const v of [0, 1, 29]) {
        assertError(await settle(withPayerSignature(item, withV(sig, v))), "NonCanonicalSignature");
      }
      assertError(
        await settle(withPayerSignature(item, ZERO_SIGNER_SIGNATURE)),
        "InvalidPayerSignature",
      );
      assertError(await settle(withPayerSignature(item, "0x")), "InvalidPayerSignature");
      assertError(
        await settle(withPayerSignature(item, `0x${"00".repeat(64)}`)),
        "InvalidPayerSignature",
      );
      // A P256 / WebAuthn signature that does not verify.
      assertError(
        await settle(withPayerSignature(item, `0x01${"11".repeat(129)}`)),
        "InvalidPayerSignature",
      );
      await sendOk(chain, settler, [settleCall(vault.address, item)]);
    },
  );

  await step(t, "every order field is bound by the payer's signature and by the QC", async () => {
    const payer = await newPayer(vault, 100_000n);
    const funder = await newPayer(vault, 1_000n);
    const parentItem = await certify(vault, funder, await makeOrder(vault, funder.address));
    await sendOk(chain, settler, [settleCall(vault.address, parentItem)]);
    const settledParent = txHashOf(parentItem.signed.order);

    const original = await makeOrder(vault, payer.address, {
      amount: 1_000n,
      fee: 10n,
      seq: 3n,
      memo: `0x${"ab".repeat(32)}`,
    });
    const item = await certify(vault, payer, original);
    const changes: Record<string, Partial<PaymentOrder>> = {
      recipient: { recipient: testAccount("another recipient").address },
      amount: { amount: original.amount + 1n },
      fee: { fee: original.fee + 1n },
      token: { token: BETA_USD },
      seq: { seq: original.seq + 1n },
      parent: { parent: settledParent },
      exit: { exit: true },
      memo: { memo: `0x${"cd".repeat(32)}` },
      validBefore: { validBefore: original.validBefore + 1n },
    };
    for (const [field, change] of Object.entries(changes)) {
      const changed: PaymentOrder = { ...original, ...change };
      const underOriginal: SettleItem = { ...item, signed: { ...item.signed, order: changed } };
      assertError(await settle(underOriginal), "InvalidPayerSignature", [], field);
      // Even the payer re-signing the change cannot reuse the QC.
      const resigned = await certify(vault, payer, changed);
      assertError(
        await settle({ ...resigned, attestations: item.attestations }),
        "InvalidAttestation",
        [0n],
        field,
      );
    }
    await sendOk(chain, settler, [settleCall(vault.address, item)]);
  });

  await step(
    t,
    "QCs: below threshold, duplicated, unsorted, non-member, foreign epoch",
    async () => {
      const payer = await newPayer(vault, 10_000n);
      const order = await makeOrder(vault, payer.address);
      const item = await certify(vault, payer, order, { signers: [0, 1, 2] });
      const [a0, a1, a2] = item.attestations;
      const outsider =
        (await attest({ ...vault, keys: new Map([[1n, settlementKeys("outsider", 4)]]) }, order, {
          epoch: 1n,
          signers: [0],
        }))[0];
      const cases: [string, SettleItem, string, unknown[]][] = [
        ["two of 4", { ...item, attestations: [a0, a1] }, "AttestationsBelowThreshold", [2n, 3n]],
        ["none", { ...item, attestations: [] }, "AttestationsBelowThreshold", [0n, 3n]],
        ["duplicated", { ...item, attestations: [a0, a0, a1] }, "AttestationIndicesNotIncreasing", [
          1n,
        ]],
        ["unsorted", { ...item, attestations: [a1, a0, a2] }, "AttestationIndicesNotIncreasing", [
          1n,
        ]],
        ["non-member", { ...item, attestations: [outsider, a1, a2] }, "InvalidAttestation", [0n]],
        [
          "member's signature at another index",
          {
            ...item,
            attestations: [a0, { ...a1, index: 3 }, a2].sort((x, y) => x.index - y.index),
          },
          "InvalidAttestation",
          [2n],
        ],
        [
          "index past the committee",
          {
            ...item,
            attestations: [a0, a1, { ...a2, index: 4 }],
          },
          "InvalidAttestation",
          [2n],
        ],
        [
          "high s",
          {
            ...item,
            attestations: [a0, { ...a1, signature: hexToBytes(highS(a1.signature)) }, a2],
          },
          "NonCanonicalSignature",
          [],
        ],
        [
          "v 29",
          {
            ...item,
            attestations: [a0, a1, { ...a2, signature: hexToBytes(withV(a2.signature, 29)) }],
          },
          "NonCanonicalSignature",
          [],
        ],
        [
          "recovering to 0",
          {
            ...item,
            attestations: [a0, { ...a1, signature: hexToBytes(ZERO_SIGNER_SIGNATURE) }, a2],
          },
          "InvalidAttestation",
          [1n],
        ],
        [
          "a fourth, invalid, beyond the threshold",
          {
            ...item,
            attestations: [a0, a1, a2, { ...outsider, index: 3 }],
          },
          "InvalidAttestation",
          [3n],
        ],
        ["an epoch never registered", { ...item, epoch: 2n }, "UnknownEpoch", [2n]],
      ];
      for (const [what, bad, name, args] of cases) assertError(await settle(bad), name, args, what);
      // An index no client would send (2^256 − 1, where index + 1 overflows) is named too.
      assertError(
        await sendReverting(chain, settler, [withIndex(vault, item, 2, (1n << 256n) - 1n)]),
        "InvalidAttestation",
        [2n],
      );
      // Attestations of the right members over another epoch's digest, presented as epoch 1.
      const otherEpochDigest = await attest(
        { ...vault, keys: new Map([[9n, vault.keys.get(1n)!]]) },
        order,
        {
          epoch: 9n,
          signers: [0, 1, 2],
        },
      );
      assertError(await settle({ ...item, attestations: otherEpochDigest }), "InvalidAttestation", [
        0n,
      ]);
      await sendOk(chain, settler, [settleCall(vault.address, item)]);
    },
  );

  await step(t, "a balance one unit short of amount + fee", async () => {
    const payer = await newPayer(vault, 1_006n, { wallet: 1_007n });
    const item = await certify(
      vault,
      payer,
      await makeOrder(vault, payer.address, { amount: 1_000n, fee: 7n }),
    );
    const settlerBefore = await vaultBalance(vault, settler.address);
    assertError(await settle(item), "InsufficientBalance", [1_006n, 1_007n]);
    await deposit(vault, payer, 1n);
    await sendOk(chain, settler, [settleCall(vault.address, item)]);
    assert.equal(await vaultBalance(vault, payer.address), 0n);
    assert.equal(await vaultBalance(vault, settler.address), settlerBefore + 7n);
  });

  await step(t, "orders with payer 0, recipient 0 or amount 0", async () => {
    const payer = await newPayer(vault, 10_000n);
    const good = await makeOrder(vault, payer.address);
    const rawItem = async (order: PaymentOrder): Promise<SettleItem> => ({
      signed: { order, signature: await payer.signTypedData(orderTypedData(order)) },
      epoch: 1n,
      attestations: await attest(vault, order),
    });
    assertError(await settle(await rawItem({ ...good, payer: zeroAddress })), "InvalidOrder", []);
    assertError(
      await settle(await rawItem({ ...good, recipient: zeroAddress })),
      "InvalidOrder",
      [],
    );
    assertError(await settle(await rawItem({ ...good, amount: 0n })), "ZeroAmount", []);
    await sendOk(chain, settler, [settleCall(vault.address, await rawItem(good))]);
  });

  await step(t, "deposits: not a TIP-20, zero, for account 0, beyond the allowance", async () => {
    const account = await newAccount(chain, [{ token: ALPHA_USD, amount: 100n }]);
    const notTip20: Address[] = [vault.address, testAccount("plain").address, zeroAddress];
    for (const token of notTip20) {
      // The deposit call alone: approving a contract that is not a token would revert first.
      const [, depositOnly] = depositCalls(vault.address, token, 1n);
      assertError(await sendReverting(chain, account, [depositOnly]), "NotTip20", [token]);
    }
    assertError(
      await sendReverting(chain, account, depositCalls(vault.address, ALPHA_USD, 0n)),
      "ZeroAmount",
      [],
    );
    assertError(
      await sendReverting(
        chain,
        account,
        depositForCalls(vault.address, zeroAddress, ALPHA_USD, 1n),
      ),
      "ZeroAddress",
      [],
    );
    const noApproval = depositCalls(vault.address, ALPHA_USD, 100n)[1];
    const why = await sendReverting(chain, account, [noApproval]);
    assert.deepEqual([why.source, why.name], ["tip20", "InsufficientAllowance"]);
    assert.equal(await vaultBalance(vault, account.address), 0n);
    await sendOk(chain, account, depositCalls(vault.address, ALPHA_USD, 100n));
    assert.equal(await vaultBalance(vault, account.address), 100n);
  });

  await step(t, "settleFor is settleBatch's alone", async () => {
    const payer = await newPayer(vault, 10_000n);
    const item = await certify(vault, payer, await makeOrder(vault, payer.address));
    assertError(
      await sendReverting(chain, settler, [settleForCall(vault, item, settler.address)]),
      "OnlySelf",
      [],
    );
  });

  await step(t, "constructor: delays, admin 0, empty, zero or duplicate member", async () => {
    const admin = await newAccount(chain);
    const members = addressesOf(settlementKeys("ctor", 3));
    const deploy = (
      maxValidity: bigint,
      exitDelay: bigint,
      list: Address[],
      owner = admin.address,
    ) => [deployVaultCall({ admin: owner, maxValidity, exitDelay, epoch: 1n, members: list })];
    const gas = { gas: DEPLOY_GAS };
    assertError(
      await sendReverting(chain, admin, deploy(119_001n, 120n, members), gas),
      "InvalidDelays",
      [119_001n, 120n],
    );
    assertError(await sendReverting(chain, admin, deploy(0n, 0n, members), gas), "InvalidDelays", [
      0n,
      0n,
    ]);
    assertError(
      await sendReverting(chain, admin, deploy(1n, 1n, members, zeroAddress), gas),
      "ZeroAddress",
      [],
    );
    assertError(await sendReverting(chain, admin, deploy(1n, 2n, []), gas), "EmptyCommittee", []);
    assertError(
      await sendReverting(chain, admin, deploy(1n, 2n, [members[0], zeroAddress]), gas),
      "ZeroMember",
      [1n],
    );
    assertError(
      await sendReverting(chain, admin, deploy(1n, 2n, [...members, members[1]]), gas),
      "DuplicateMember",
      [3n],
    );
    // The boundary itself deploys: exitDelay·1000 = maxValidity + 1000.
    const receipt = await sendOk(chain, admin, deploy(119_000n, 120n, members), gas);
    assert.ok(receipt.contractAddress);
  });
});

/** `settle(item)` with the attestation at `position` claiming committee index `index`. */
function withIndex(vault: TestVault, item: SettleItem, position: number, index: bigint): TempoCall {
  const { args } = decodeFunctionData({
    abi: vaultAbi,
    data: settleCall(vault.address, item).data,
  });
  const [arg] = args as unknown as [
    { attestations: { index: bigint; signature: `0x${string}` }[] },
  ];
  const attestations = arg.attestations.map((a, i) => (i === position ? { ...a, index } : a));
  return {
    to: vault.address,
    data: encodeFunctionData({
      abi: vaultAbi,
      functionName: "settle",
      args: [{ ...arg, attestations } as never],
    }),
  };
}
