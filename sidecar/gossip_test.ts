import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { type BulletinEntry, BulletinEntrySchema, FastPaySidecar } from "@allegro/proto";
import {
  bytesEqual,
  type Certificate,
  certificateToProto,
  decodePayment,
  paymentEffectsHash,
  paymentTxHash,
  verifyBoardEntry,
} from "@allegro/client";
import { serveConnect } from "@allegro/server/listen";
import { Gossip, type GossipOptions } from "./gossip.ts";
import { jsonLogger } from "@allegro/server/log";
import { SidecarMetrics } from "./metrics.ts";
import { privateKeyToAccount } from "viem/accounts";
import { alice, PATH_USD, submission, testCertifier } from "./testing.ts";

const mallory = privateKeyToAccount(`0x${"42".repeat(32)}`);

/** A peer that serves `entries` (sequences 1..n) page by page. */
function fakePeer(entries: BulletinEntry[]) {
  return serveConnect({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 20,
    routes: (router) =>
      router.service(FastPaySidecar, {
        getBulletinBoard(req) {
          const page = entries.filter((e) => e.sequence > req.afterSequence).slice(0, req.limit);
          return {
            entries: page,
            nextAfterSequence: page.at(-1)?.sequence ?? req.afterSequence,
            hasMore: page.length === req.limit,
          };
        },
      }),
  });
}

/**
 * Validator 0's gossip over `f`'s store, pulling `peers` (test listeners); its log lines go to
 * `lines`. `options` overrides the paging and the entry check.
 */
function gossipOf(
  f: Awaited<ReturnType<typeof testCertifier>>,
  peers: readonly { port: number }[],
  lines: string[],
  options: Partial<Pick<GossipOptions, "pageLimit" | "maxPagesPerRound" | "verify">> = {},
): Gossip {
  return new Gossip({
    peers: peers.map((p) => `http://127.0.0.1:${p.port}`),
    committee: f.committee,
    self: f.signers[0].publicKey,
    store: f.store,
    log: jsonLogger("test", (l) => lines.push(l)),
    metrics: new SidecarMetrics(),
    intervalMillis: 10,
    pageLimit: 10,
    maxPagesPerRound: 1,
    timeoutMillis: 5000,
    ...options,
  });
}

Deno.test("gossip keeps verified peer certificates, drops forged ones, and a flood cannot touch own entries", async () => {
  const f = await testCertifier({ maxGossipPerSigner: 1000 });
  f.chain.setBalance(alice.address, PATH_USD, 100_000_000n);
  const own = await submission();
  const ownAnswer = await f.certifier.submit(own);
  assert.ok("certificate" in ownAnswer);
  const [ownEntry] = await f.store.board({ afterSequence: 0n, limit: 10 });

  // Validator 1 is Byzantine: it certifies 2000 payments of an account it controls (every one
  // valid), serves an entry whose signature it forged for validator 2, and one whose parent hash
  // the payer never signed.
  const entries: BulletinEntry[] = [];
  const entry = (certificate: Certificate, signedTx: Uint8Array, parentQcHash = new Uint8Array()) =>
    create(BulletinEntrySchema, {
      sequence: BigInt(entries.length + 1),
      certificate: certificateToProto(certificate),
      signedTx,
      parentQcHash,
    });
  for (let i = 0; i < 2000; i++) {
    const { signedTx } = await submission(mallory, { nonce: BigInt(i), amount: 1n });
    const payment = decodePayment(signedTx, { chainId: 1337n });
    const cert = await f.signers[1].sign(paymentTxHash(payment), paymentEffectsHash(payment), 5n);
    entries.push(entry(cert, signedTx));
  }
  const other = await submission(alice, { nonce: 1n, amount: 5n });
  const payment = decodePayment(other.signedTx, { chainId: 1337n });
  const genuine = await f.signers[2].sign(paymentTxHash(payment), paymentEffectsHash(payment), 6n);
  const forged = { ...genuine, signature: genuine.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
  entries.push(entry(forged, other.signedTx));
  const unsignedParent = new Uint8Array(32).fill(7);
  const phantom = await f.signers[3].sign(
    paymentTxHash(payment, unsignedParent),
    paymentEffectsHash(payment),
    7n,
  );
  entries.push(entry(phantom, other.signedTx, unsignedParent));
  const peer = fakePeer(entries);

  const lines: string[] = [];
  const gossip = gossipOf(f, [peer], lines, { pageLimit: 500, maxPagesPerRound: 20 });
  const added = await gossip.round();
  assert.equal(added, 1000); // the per-signer bound
  assert.equal(await gossip.round(), 0); // cursor at the end: nothing new, nothing repeated
  assert.ok(lines.some((l) => l.includes("peer served an invalid entry")));

  const board = await f.store.board({ afterSequence: 0n, limit: 5000 });
  assert.equal(board.length, 1001);
  assert.deepEqual(board[0], ownEntry);
  assert.deepEqual(board.map((e) => e.sequence), board.map((_, i) => BigInt(i + 1)));
  for (const outsider of [f.signers[2], f.signers[3]]) {
    assert.ok(!board.some((e) => bytesEqual(e.certificate.signer, outsider.publicKey)));
  }

  // The sidecar still answers correctly: same cert on replay, EQUIVOCATION on conflict, new payments certified.
  const replay = await f.certifier.submit(own);
  assert.ok("certificate" in replay);
  assert.deepEqual(replay.certificate, ownAnswer.certificate);
  const conflict = await f.certifier.submit(await submission(alice, { amount: 3n }));
  assert.ok("reject" in conflict && conflict.reject.code === "EQUIVOCATION");
  const next = await f.certifier.submit(await submission(alice, { nonce: 1n, amount: 7n }));
  assert.ok("certificate" in next);
  assert.equal((await f.store.board({ afterSequence: 1001n, limit: 10 })).length, 1);

  await peer.close();
  f.store.close();
});

Deno.test("gossip verifies a certificate served by several peers once, and stores it once", async () => {
  const f = await testCertifier();
  const { signedTx } = await submission(alice, { amount: 2n });
  const payment = decodePayment(signedTx, { chainId: 1337n });
  const cert = await f.signers[1].sign(paymentTxHash(payment), paymentEffectsHash(payment), 5n);
  const served = create(BulletinEntrySchema, {
    sequence: 1n,
    certificate: certificateToProto(cert),
    signedTx,
  });
  const peers = [fakePeer([served]), fakePeer([served])];
  let verified = 0;
  const gossip = gossipOf(f, peers, [], {
    verify: (committee, entry) => {
      verified++;
      return verifyBoardEntry(committee, entry);
    },
  });
  assert.equal(await gossip.round(), 1);
  assert.equal(verified, 1);
  assert.equal((await f.store.board({ afterSequence: 0n, limit: 10 })).length, 1);
  await Promise.all(peers.map((p) => p.close()));
  f.store.close();
});

Deno.test("gossip that could not be stored is neither lost nor skipped: the next round takes it", async () => {
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/s.kv`;
  const f = await testCertifier({ kvPath });
  f.chain.setBalance(alice.address, PATH_USD, 100_000_000n);
  // The store now remembers the board sequence's versionstamp …
  assert.ok("certificate" in await f.certifier.submit(await submission()));
  // … and another writer moves it: the next commit fails its version check.
  const other = await Deno.openKv(kvPath);
  await other.set(["v1", "meta", "board_seq"], 1n);
  other.close();
  const { signedTx } = await submission(alice, { nonce: 1n, amount: 2n });
  const payment = decodePayment(signedTx, { chainId: 1337n });
  const cert = await f.signers[1].sign(paymentTxHash(payment), paymentEffectsHash(payment), 5n);
  const peer = fakePeer([
    create(BulletinEntrySchema, { sequence: 1n, certificate: certificateToProto(cert), signedTx }),
  ]);
  const lines: string[] = [];
  const gossip = gossipOf(f, [peer], lines);
  assert.equal(await gossip.round(), 0);
  assert.ok(lines.some((l) => l.includes("gossip pull failed")));
  assert.equal(await gossip.round(), 1);
  const board = await f.store.board({ afterSequence: 0n, limit: 10 });
  assert.ok(board.some((e) => bytesEqual(e.certificate.signer, f.signers[1].publicKey)));
  await peer.close();
  f.store.close();
  await Deno.remove(dir, { recursive: true });
});
