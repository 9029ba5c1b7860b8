/**
 * The isolated sidecar of `isolated.ts` behind its real Connect service on `Deno.serve`, as a
 * child process of the benchmark, served as `sidecar/app.ts` serves it: binary `SubmitFastPay`
 * on the fast path, everything else through the Connect router. One more route,
 * `POST /bench/deposit` with a JSON array of `[payer, token]` pairs, funds those lanes on the
 * synthetic chain and answers once the blocks are durable. Prints one JSON line
 * `{ "url", "pid" }` on stdout when listening, and exits when its standard input closes.
 *
 * Usage: `deno run -A bench/isolated_server.ts KV_PATH`
 *
 * @module
 */
import type { Address } from "viem";
import { FastPaySidecar } from "@allegro/proto";
import { serveConnect } from "@allegro/server/listen";
import { jsonLogger } from "@allegro/server/log";
import { SidecarMetrics, sidecarService, submitFastPath, TxEvents } from "@allegro/sidecar/bench";
import { startIsolated } from "./isolated.ts";

/** The control route that funds lanes. */
export const DEPOSIT_PATH = "/bench/deposit";

const READ_MAX_BYTES = 1 << 20;

if (import.meta.main) {
  const sidecar = await startIsolated(Deno.args[0]);
  const metrics = new SidecarMetrics();
  // Rejects are counted by the benchmark; a log line for each would only load the machine.
  const log = { ...jsonLogger("bench-sidecar"), info: () => {} };
  const signer = sidecar.signers[0];
  const service = sidecarService({
    name: "v0",
    committee: sidecar.committee,
    publicKey: signer.publicKey,
    settlementAddress: signer.settlementAddress,
    peers: [],
    certifier: sidecar.certifier,
    store: sidecar.store,
    chain: () => sidecar.authority.chain,
    events: new TxEvents(),
    metrics,
    log,
    maxPage: 1000,
  });
  const fast = submitFastPath({ certifier: sidecar.certifier, metrics, log }, READ_MAX_BYTES);
  const listener = serveConnect({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: READ_MAX_BYTES,
    routes: (router) => router.service(FastPaySidecar, service),
    fallback: async (request) => {
      if (new URL(request.url).pathname !== DEPOSIT_PATH) return await fast(request);
      const lanes = await request.json() as [Address, Address][];
      await sidecar.chain.deposit(lanes.map(([payer, token]) => ({ payer, token })));
      return new Response(null, { status: 204 });
    },
  });
  console.log(JSON.stringify({ url: `http://127.0.0.1:${listener.port}`, pid: Deno.pid }));
  // Exit when the parent goes away.
  for await (const _ of Deno.stdin.readable) {
    // ignore input
  }
  await listener.close();
  sidecar.close();
}
