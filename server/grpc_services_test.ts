/**
 * The plain-gRPC listener's standard services, seen by an independent client: `buf curl` lists
 * the methods without a schema (server reflection) and checks health.
 */
import assert from "node:assert/strict";
import { FastPaySidecar } from "@allegro/proto";
import { serveGrpc } from "./listen.ts";

const BUF = "npm:@bufbuild/buf@1.74.0";

async function bufCurl(...args: string[]): Promise<{ ok: boolean; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      BUF,
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { ok: out.success, out: text(out.stdout) + text(out.stderr) };
}

Deno.test("buf curl lists the methods through reflection and checks health, no schema given", async () => {
  let serving = true;
  const grpc = await serveGrpc({
    hostname: "127.0.0.1",
    port: 0,
    readMaxBytes: 1 << 20,
    routes: (router) => router.service(FastPaySidecar, {}),
    serving: () => serving,
  });
  const url = `http://127.0.0.1:${grpc.port}`;
  try {
    const methods = await bufCurl("--list-methods", url);
    assert.ok(methods.ok, methods.out);
    for (const m of ["SubmitFastPay", "GetBulletinBoard", "GetLane"]) {
      assert.match(methods.out, new RegExp(`allegro\\.v1\\.FastPaySidecar/${m}`));
    }
    assert.match(methods.out, /grpc\.health\.v1\.Health\/Check/);
    const health = await bufCurl("-d", "{}", `${url}/grpc.health.v1.Health/Check`);
    assert.ok(health.ok, health.out);
    assert.match(health.out, /"status": "SERVING"/);
    serving = false;
    const down = await bufCurl(
      "-d",
      '{"service":"allegro.v1.FastPaySidecar"}',
      `${url}/grpc.health.v1.Health/Check`,
    );
    assert.match(down.out, /"status": "NOT_SERVING"/);
    const unknown = await bufCurl("-d", '{"service":"nope"}', `${url}/grpc.health.v1.Health/Check`);
    assert.equal(unknown.ok, false);
    assert.match(unknown.out, /not_found|NotFound|not found/i);
  } finally {
    await grpc.close();
  }
});
