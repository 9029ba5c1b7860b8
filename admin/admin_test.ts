/**
 * The admin commands against anvil: deploy a vault from a committee file (its address written
 * back), register the next epoch, show the vault and an account; and the refusals: an exit delay
 * shorter than W allows, a key that is not the vault's admin, an epoch that does not increase.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DEV_KEYS, startAnvil } from "@allegro/server/anvil";
import { writeAccountKeyFile } from "@allegro/server/keyfile";
import { main } from "./main.ts";

/** Runs `admin …` capturing what it prints. */
async function admin(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => out.push(line);
  console.error = (line: string) => err.push(line);
  try {
    return { code: await main(args), out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(console, { log, error });
  }
}

const member = (i: number) => ({
  name: `v${i}`,
  pubkey: String(i + 1).padStart(2, "0").repeat(32),
  settlement_address: `0x${String(i + 1).padStart(2, "0").repeat(20)}`,
  endpoint: `http://127.0.0.1:${7000 + i}`,
});

Deno.test({
  name: "admin deploys a vault, registers the next epoch and shows them; refusals name the cause",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "allegro-admin-" });
  await using anvil = await startAnvil({ blockTimeSeconds: 0 });
  try {
    const key = join(dir, "admin.key");
    const stranger = join(dir, "stranger.key");
    await writeAccountKeyFile(key, DEV_KEYS[5]);
    await writeAccountKeyFile(stranger, DEV_KEYS[6]);
    const first = join(dir, "committee.json");
    await Deno.writeTextFile(
      first,
      JSON.stringify({
        chain_id: String(anvil.chainId),
        epoch: 1,
        validators: [0, 1, 2, 3].map(member),
      }),
    );
    const rpc = ["--rpc-url", anvil.rpcUrl];

    const tooShort = await admin(
      "deploy",
      ...rpc,
      "--key",
      key,
      "--committee",
      first,
      "--max-validity-ms",
      "60000",
      "--exit-delay-s",
      "60",
    );
    assert.equal(tooShort.code, 2);
    assert.match(
      tooShort.err,
      /--exit-delay-s 60 must be at least \(--max-validity-ms 60000 \+ 1000\) \/ 1000/,
    );

    const deployed = await admin(
      "deploy",
      ...rpc,
      "--key",
      key,
      "--committee",
      first,
      "--max-validity-ms",
      "60000",
      "--exit-delay-s",
      "61",
    );
    assert.equal(deployed.code, 0, deployed.err);
    const vault = JSON.parse(deployed.out).vault as string;
    assert.equal(
      JSON.parse(await Deno.readTextFile(first)).vault,
      vault,
      "the address is written back",
    );

    const second = join(dir, "committee-2.json");
    await Deno.writeTextFile(
      second,
      JSON.stringify({
        chain_id: String(anvil.chainId),
        epoch: 5,
        vault,
        validators: [1, 2, 3, 4].map(member),
      }),
    );
    const notAdmin = await admin("register", ...rpc, "--key", stranger, "--committee", second);
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.err, /--key is 0x[0-9a-fA-F]{40}; the vault's admin is 0x/);
    const registered = await admin("register", ...rpc, "--key", key, "--committee", second);
    assert.equal(registered.code, 0, registered.err);
    const again = await admin("register", ...rpc, "--key", key, "--committee", second);
    assert.equal(again.code, 1);
    assert.match(again.err, /epoch 5 is not after the vault's current epoch 5/);

    const shown = await admin(
      "show",
      ...rpc,
      "--vault",
      vault,
      "--account",
      "0x0101010101010101010101010101010101010101",
      "--token",
      "0x20c0000000000000000000000000000000000000",
      "--seqs",
      "2",
    );
    assert.equal(shown.code, 0, shown.err);
    const view = JSON.parse(shown.out);
    assert.equal(view.currentEpoch, "5");
    assert.equal(view.previousEpoch, "1");
    assert.equal(view.maxValidity, "60000");
    assert.deepEqual(
      view.committees.map((c: { epoch: string; threshold: number }) => [c.epoch, c.threshold]),
      [
        ["5", 3],
        ["1", 3],
      ],
    );
    assert.deepEqual(view.account.settled, { "0": null, "1": null });
    assert.equal(view.account.balance, "0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
