import assert from "node:assert/strict";
import {
  CONFIG_OPTION,
  ConfigError,
  optionsHelp,
  type OptionSpec,
  readOptions,
  runCommands,
  stopSignal,
} from "./cli.ts";

const OPTIONS: readonly OptionSpec[] = [
  CONFIG_OPTION,
  { flag: "name", kind: "string", required: true, help: "a name" },
  { flag: "listen", kind: "address", default: "127.0.0.1:7001", help: "where to listen" },
  { flag: "peers", kind: "urls", default: "", help: "peer URLs" },
  { flag: "limit", kind: "int", default: "10", min: 1, max: 100, help: "a bound" },
  { flag: "forward", kind: "bool", default: "true", help: "a switch" },
  { flag: "tokens", kind: "list", default: "a,b", hideDefault: true, help: "a long list" },
];

Deno.test("flags win over the config file, which wins over defaults", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(
    path,
    JSON.stringify({ name: "file", peers: ["http://a:1", "http://b:2"], limit: 50 }),
  );
  const o = await readOptions(
    ["--config", path, "--limit", "7", "--listen", "[::1]:9000"],
    OPTIONS,
    "t run",
  );
  assert.equal(o.string("name"), "file");
  assert.equal(o.int("limit"), 7);
  assert.deepEqual(o.address("listen"), { hostname: "::1", port: 9000 });
  assert.deepEqual(o.urls("peers"), ["http://a:1", "http://b:2"]);
  assert.equal(o.bool("forward"), true);
  assert.deepEqual(o.list("tokens"), ["a", "b"]);
  await Deno.remove(path);
});

Deno.test("bad values are refused naming the option and the value", async () => {
  const named = async (args: string[], message: RegExp) => {
    const o = await readOptions(["--name", "x", ...args], OPTIONS, "t run");
    assert.throws(() => {
      o.int("limit");
      o.bool("forward");
      o.address("listen");
      o.urls("peers");
    }, (e) => e instanceof ConfigError && message.test(e.message));
  };
  await named(["--limit", "101"], /--limit must be an integer in 1…100, got "101"/);
  await named(["--limit", "1e3"], /--limit must be an integer in 1…100, got "1e3"/);
  const yes = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(yes, JSON.stringify({ forward: "yes" }));
  await named(["--config", yes], /--forward must be true or false, got "yes"/);
  await Deno.remove(yes);
  await named(["--listen", "localhost"], /--listen must be HOST:PORT, got "localhost"/);
  await named(["--peers", "http://a:1,nope"], /--peers must be a URL, got "nope"/);
  await assert.rejects(
    readOptions([], OPTIONS, "t run"),
    { name: "ConfigError", message: "--name is required" },
  );
  await assert.rejects(readOptions(["--name", "x", "--bogus", "1"], OPTIONS, "t run"), ConfigError);
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify({ name: "x", bogus: 1 }));
  await assert.rejects(readOptions(["--config", path], OPTIONS, "t run"), /unknown option "bogus"/);
  await Deno.writeTextFile(path, "[1]");
  await assert.rejects(
    readOptions(["--config", path], OPTIONS, "t run"),
    /must hold a JSON object/,
  );
  await Deno.remove(path);
});

Deno.test("--help lists every option with its required mark and its default unless hidden", () => {
  const help = optionsHelp("Usage: t run [options]", OPTIONS);
  assert.match(help, /^Usage: t run \[options\]\n\nOptions:\n/);
  assert.match(help, /--name +a name \(required\)\n/);
  assert.match(help, /--limit +a bound \[default: 10\]\n/);
  assert.match(help, /--tokens +a long list$/);
  for (const o of OPTIONS) assert.match(help, new RegExp(`--${o.flag} `));
});

Deno.test("commands: exit codes for help, no command, unknown command, bad usage and failure", async () => {
  const commands = {
    ok: () => Promise.resolve(0),
    usage: () => Promise.reject(new ConfigError("--x is required")),
    fails: () => Promise.reject(new Error("disk full")),
  };
  const lines: string[] = [];
  const { log, error } = console;
  console.log = console.error = (line: string) => lines.push(line);
  try {
    assert.equal(await runCommands("t", "Usage: t", commands, ["ok"]), 0);
    assert.equal(await runCommands("t", "Usage: t", commands, ["--help"]), 0);
    assert.equal(await runCommands("t", "Usage: t", commands, []), 2);
    assert.equal(await runCommands("t", "Usage: t", commands, ["toString"]), 2);
    assert.equal(await runCommands("t", "Usage: t", commands, ["usage"]), 2);
    assert.equal(await runCommands("t", "Usage: t", commands, ["fails"]), 1);
  } finally {
    Object.assign(console, { log, error });
  }
  assert.deepEqual(lines, [
    "Usage: t",
    "Usage: t",
    't: unknown command "toString"\n\nUsage: t',
    "t usage: --x is required\n(t usage --help lists the options)",
    "t fails: disk full",
  ]);
});

Deno.test("stopSignal resolves on SIGTERM", async () => {
  const stopped = stopSignal();
  const alive = setTimeout(() => {}, 10_000); // signal listeners do not keep the process alive
  Deno.kill(Deno.pid, "SIGTERM");
  await stopped;
  clearTimeout(alive);
});

Deno.test("boolean options take no value; url options name the schemes they take", async () => {
  const options: OptionSpec[] = [
    { flag: "first-start", kind: "bool", default: "false", help: "x" },
    { flag: "rpc-url", kind: "url", protocols: ["http:", "https:"], help: "y" },
  ];
  const on = await readOptions(
    ["--first-start", "--rpc-url", "http://127.0.0.1:1"],
    options,
    "t run",
  );
  assert.equal(on.bool("first-start"), true);
  assert.equal((await readOptions([], options, "t run")).bool("first-start"), false);
  const ftp = await readOptions(["--rpc-url", "ftp://x"], options, "t run");
  assert.throws(() => ftp.url("rpc-url"), /--rpc-url must be a http or https URL, got "ftp:\/\/x"/);
});
