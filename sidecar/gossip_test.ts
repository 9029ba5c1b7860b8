/**
 * Gossip counts a board read to its end once per other committee member — not per URL, never
 * this sidecar's own or a stranger's — and pulls nothing while the chain view is not current.
 * The peers are fake Connect servers with empty boards.
 */
import assert from "node:assert/strict";
import { FastPaySidecar } from "@allegro/proto";
import { testCommittee } from "@allegro/client/testing";
import { serveConnect } from "@allegro/server/listen";
import { jsonLogger } from "@allegro/server/log";
import { bytesToHex } from "viem";
import type { Certifier } from "./certifier.ts";
import { Gossip } from "./gossip.ts";
import { SidecarMetrics } from "./metrics.ts";

const { committee, signers } = testCommittee(4);

/** A peer whose board is empty and whose GetValidatorInfo names `pubkey`. */
function fakePeer(pubkey: Uint8Array) {
  let pulls = 0;
  const listener = serveConnect({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 16,
    routes: (router) =>
      router.service(FastPaySidecar, {
        getValidatorInfo: () => ({ pubkey }),
        getBulletinBoard: () => {
          pulls++;
          return { entries: [], hasMore: false };
        },
      }),
  });
  return { url: `http://127.0.0.1:${listener.port}`, pulls: () => pulls, close: listener.close };
}

Deno.test("boards count once per other committee member, and only while the view is current", async () => {
  const self = signers[0].publicKey;
  const member = fakePeer(signers[1].publicKey);
  const another = fakePeer(signers[2].publicKey);
  const itself = fakePeer(self);
  const stranger = fakePeer(new Uint8Array(32).fill(99));
  const pulled: string[] = [];
  const warnings: string[] = [];
  let current = false;
  const gossip = new Gossip({
    peers: [member.url, member.url + "/", itself.url, stranger.url, another.url],
    committee,
    self,
    certifier: { boardPulled: (id: string) => Promise.resolve(void pulled.push(id)) } as Certifier,
    log: jsonLogger("test", (line) => warnings.push(JSON.parse(line).msg)),
    metrics: new SidecarMetrics(),
    intervalMillis: 1000,
    pageLimit: 10,
    maxPagesPerRound: 2,
    timeoutMillis: 2000,
    perSignerPerSecond: 10,
    viewCurrent: () => current,
  });
  try {
    assert.equal(await gossip.round(), 0);
    assert.equal(member.pulls() + itself.pulls() + stranger.pulls(), 0, "no pull on a stale view");
    current = true;
    await gossip.round();
    await gossip.round();
    assert.deepEqual(
      pulled.sort(),
      [bytesToHex(signers[1].publicKey), bytesToHex(signers[2].publicKey)].sort(),
      "each other member once; the same member at two URLs, itself and a stranger do not count",
    );
    assert.equal(
      warnings.filter((w) => /not another member/.test(w)).length,
      2,
      "itself and the stranger, each said once",
    );
  } finally {
    await gossip.stop();
    await Promise.all([member, another, itself, stranger].map((p) => p.close()));
  }
});
