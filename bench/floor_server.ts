/**
 * The platform floor of a sidecar's answer: a process that does nothing for a request but what a
 * sidecar cannot avoid — read it, make one durable Deno KV commit, answer over HTTP. Fanned out
 * to four of these, the benchmark measures the least a QC can take on this machine. Prints one
 * JSON line `{ "url", "pid" }` when listening; exits when its standard input closes.
 *
 * Usage: `deno run -A bench/floor_server.ts KV_PATH`
 *
 * @module
 */
if (import.meta.main) {
  const kv = await Deno.openKv(Deno.args[0]);
  let sequence = 0n;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = new Uint8Array(await request.arrayBuffer());
    await kv.atomic().set(["request", ++sequence], body).commit();
    return new Response(body.subarray(0, 200));
  });
  console.log(JSON.stringify({ url: `http://127.0.0.1:${server.addr.port}`, pid: Deno.pid }));
  for await (const _ of Deno.stdin.readable) {
    // ignore input
  }
  await server.shutdown();
  kv.close();
}
