/**
 * The isolated sidecar of `isolated.ts` behind its real Connect service on `Deno.serve`, as a
 * child process of the benchmark: prints one JSON line `{ "url", "pid", "secp256k1" }` on stdout
 * when listening, and exits when its standard input closes (or on SIGTERM).
 *
 * Usage: `deno run -A bench/isolated_server.ts KV_PATH [EMPTY_ACCOUNTS_FILE] [SECP256K1]`
 *
 * @module
 */
import { FastPaySidecar } from "@allegro/proto";
import { serveConnect } from "@allegro/server/listen";
import { TxEvents } from "@allegro/sidecar/events";
import { SidecarMetrics } from "@allegro/sidecar/metrics";
import { sidecarService, submitFastPath } from "@allegro/sidecar/service";
import { startIsolated } from "./isolated.ts";

if (import.meta.main) {
  const [kvPath, emptyFile, secp256k1] = Deno.args.filter((a) => !a.startsWith("--"));
  const empty = emptyFile ? JSON.parse(await Deno.readTextFile(emptyFile)) as string[] : [];
  const sidecar = await startIsolated({
    kvPath,
    emptyAccounts: new Set(empty),
    secp256k1: (secp256k1 ?? "auto") as "auto",
  });
  const metrics = new SidecarMetrics();
  const service = sidecarService({
    name: "v0",
    committee: sidecar.committee,
    signer: sidecar.signers[0],
    peers: [],
    certifier: sidecar.certifier,
    store: sidecar.store,
    ledger: sidecar.ledger,
    events: new TxEvents(),
    metrics,
    maxPage: 1000,
  });
  // As `sidecar/app.ts` serves it: binary SubmitFastPay on the fast path, unless --no-fast-path.
  const fast = Deno.args.includes("--no-fast-path")
    ? undefined
    : submitFastPath({ certifier: sidecar.certifier, metrics }, 1 << 20);
  const listener = serveConnect({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 20,
    routes: (router) => router.service(FastPaySidecar, service),
    ...(fast ? { fallback: fast } : {}),
  });
  const stop = async () => {
    await listener.close();
    sidecar.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  console.log(JSON.stringify({
    url: `http://127.0.0.1:${listener.port}`,
    pid: Deno.pid,
    secp256k1: sidecar.secp256k1,
  }));
  // Exit when the parent goes away.
  for await (const _ of Deno.stdin.readable) {
    // ignore input
  }
  await stop();
}
