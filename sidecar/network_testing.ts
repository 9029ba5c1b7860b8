/**
 * The fixture of the sidecar's network tests: real sidecar processes on anvil in Tempo mode
 * (loopback only), and what the tests do to them — payers funded and deposited (until every
 * running sidecar has processed the deposit), orders signed with a `validBefore` taken from
 * chain time, submissions to one sidecar and fan-outs to any subset of the committee over binary
 * Connect, `GetLane` snapshots, settlement and the conservation check of SPEC §5, sidecars
 * killed, wiped and restarted, a Byzantine validator that signs anything, a TCP proxy that can
 * black-hole a sidecar's RPC, and `/metrics` parsed. Every wait is bounded, and every test that
 * starts a network has a deadline ({@linkcode networkTest}).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  type Address,
  BaseError,
  bytesToHex,
  createPublicClient,
  getAddress,
  type Hex,
  hexToBytes,
  http,
  type LocalAccount,
  parseAbi,
  type PublicClient,
  toHex,
  type TransactionReceipt,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  FastPaySidecar,
  type SubmitFastPayRequestSchema,
  ValidatorCertificateSchema,
} from "@allegro/proto";
import {
  type Certificate,
  certificateFromProto,
  CertificateSigner,
  certificateToProto,
  type CertifiedOrder,
  certifiedOrderInit,
  type Committee,
  connectSidecars,
  fanOut,
  type FanOutResult,
  loadCommittee,
  NO_PARENT,
  orderEffectsHash,
  orderTxHash,
  type PaymentOrder,
  readAccount,
  readSettledTxHash,
  type RejectCode,
  rejectCodeFromProto,
  sendTempoTransaction,
  settleCall,
  type SettlementReceipt,
  settleOrders,
  type SidecarConnection,
  type SignedOrder,
  signedOrderFromProto,
  signedOrderInit,
  signOrder,
  type TempoCall,
  vaultError,
  waitForSuccess,
} from "@allegro/client";
import { FUNDER_KEYS, PATH_USD } from "@allegro/server/anvil";
import { readAccountKeyFile, readKeyFile } from "@allegro/server/keyfile";
import { type Listener, serveConnect } from "@allegro/server/listen";
import {
  fundAndDeposit,
  type LocalNetwork,
  startLocalNetwork,
} from "@allegro/server/local-network";
import { type ComponentProcess, spawnSidecars } from "@allegro/server/network";
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** One USD in pathUSD base units (6 decimals). */
export const USD = 1_000_000n;

/** The block interval of every test network (ms). */
const BLOCK_MILLIS = 1000;

/** Runs `body`, failing with `what` if it is not done within `millis`. */
async function withDeadline<T>(
  what: string,
  millis: number,
  body: Promise<T>,
): Promise<T> {
  const signal = AbortSignal.timeout(millis);
  const late = new Promise<never>((_, reject) =>
    signal.addEventListener(
      "abort",
      () => reject(new Error(`${what}: not done within ${millis} ms`)),
    )
  );
  body.catch(() => {}); // once late, its own failure is no longer news
  return await Promise.race([body, late]);
}

/**
 * Polls `probe` every 100 ms until it returns something other than `undefined` or `false`, and
 * returns that; throws naming `what` (and the last error `probe` threw) when `millis` pass first.
 */
export async function until<T>(
  what: string,
  millis: number,
  probe: () => Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + millis;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`${what}: not within ${millis} ms${last ? ` (last error: ${last})` : ""}`);
}

/** Resolves after `millis`. */
export function sleep(millis: number): Promise<void> {
  return new Promise((r) => setTimeout(r, millis));
}

/** How a {@linkcode TestNetwork} is set up. */
export interface TestNetworkOptions {
  /** Committee size. */
  readonly validators: number;
  /** How many validators, the first ones, get a sidecar process at once; default all. */
  readonly sidecars?: number;
  /** Whether the sidecars settle on their own (`--settler-key`); default true. */
  readonly settlers?: boolean;
  /** The vault's W (ms); default 60 s. */
  readonly maxValidity?: bigint;
  /** The vault's forced-exit delay (s); default the least W allows. */
  readonly exitDelay?: bigint;
  /** More `sidecar run` arguments for every sidecar. */
  readonly sidecarArgs?: readonly string[];
}

/** A payer: its key and account. */
export interface Payer {
  readonly key: Hex;
  readonly account: LocalAccount;
  readonly address: Address;
}

/** What one sidecar answered to one submission. */
export interface Answer {
  readonly txHash: Hex;
  readonly certificate?: Certificate;
  /** The certificate's wire encoding: a replay must return these very bytes. */
  readonly certificateBytes?: Hex;
  readonly reject?: { readonly code: RejectCode; readonly message: string };
}

/** A lane as one sidecar's `GetLane` reports it. */
export interface LaneState {
  readonly appliedPrefix: bigint;
  readonly locked?: Hex;
  /** The wire encoding of this sidecar's certificate at the next seq. */
  readonly certificate?: Hex;
  readonly balance: bigint;
  readonly available: bigint;
  readonly chainTime: bigint;
}

/** The wrapper fields of a submission besides the order. */
export interface Wrapper {
  readonly laneQcs?: readonly CertifiedOrder[];
  readonly parent?: CertifiedOrder;
  readonly clientRequestId?: string;
}

/** The fields of an order a test chooses; the rest default (see {@linkcode TestNetwork.order}). */
export type OrderFields =
  & Pick<PaymentOrder, "recipient" | "amount" | "seq">
  & Partial<Omit<PaymentOrder, "recipient" | "amount" | "seq" | "payer" | "parent">>
  & { readonly parent?: CertifiedOrder | Hex };

type SubmitRequest = MessageInitShape<typeof SubmitFastPayRequestSchema>;

/**
 * A submission as the wire request: the order, lane QCs, parent and request id.
 *
 * @example
 * ```ts ignore
 * await net.submit(0, request(signed, { laneQcs: [qc0] }));
 * ```
 */
export function request(signed: SignedOrder, wrapper: Wrapper = {}): SubmitRequest {
  return {
    order: signedOrderInit(signed),
    laneQcs: (wrapper.laneQcs ?? []).map(certifiedOrderInit),
    ...(wrapper.parent ? { parent: certifiedOrderInit(wrapper.parent) } : {}),
    ...(wrapper.clientRequestId ? { clientRequestId: wrapper.clientRequestId } : {}),
  };
}

/** The `tx_hash` of an order, as hex. */
export function txHashOf(signed: SignedOrder): Hex {
  return bytesToHex(orderTxHash(signed.order));
}

/** Fails unless `answer` is a reject with `code` whose message names every one of `names`. */
export function assertRejected(answer: Answer, code: RejectCode, names: readonly unknown[]): void {
  assert.ok(answer.reject, `expected ${code} for ${answer.txHash}, got a certificate`);
  assert.equal(answer.reject.code, code, answer.reject.message);
  for (const name of names) {
    assert.ok(
      answer.reject.message.includes(String(name)),
      `"${answer.reject.message}" names ${name}`,
    );
  }
}

/** The certified order a fan-out's QC makes; fails the test when the fan-out formed none. */
export function certified(result: FanOutResult): CertifiedOrder {
  const reasons = result.rejects.map((r) => `${r.validator.name}: ${r.code} ${r.message}`);
  assert.ok(result.qc, `no QC for seq ${result.signed.order.seq}: ${reasons.join("; ")}`);
  return { signed: result.signed, txHash: bytesToHex(result.txHash), qc: result.qc };
}

/**
 * A local network for one test: anvil (1 s blocks), a vault, a committee of `validators`, and
 * sidecar processes for the first `sidecars` of them.
 */
export class TestNetwork {
  /** The launcher's network: anvil, the data folder, the committee's keys and ports. */
  readonly local: LocalNetwork;
  /** The committee file, loaded. */
  readonly committee: Committee;
  /** A client of anvil's RPC. */
  readonly chain: PublicClient;
  /** A connection to every committee member's endpoint, in committee order. */
  readonly connections: readonly SidecarConnection[];
  /** The vault's W (ms). */
  readonly maxValidity: bigint;
  /** The account the tests settle with (a funded dev key that pays fees in pathUSD). */
  readonly settler: LocalAccount = privateKeyToAccount(FUNDER_KEYS[4]);
  readonly #options: TestNetworkOptions;
  /** The sidecar process of each validator, while one runs. */
  readonly #processes: (ComponentProcess | undefined)[];
  readonly #closers: (() => Promise<void>)[] = [];
  /** Every account that may hold a vault balance, and every token deposited. */
  readonly #accounts = new Set<Address>();
  readonly #tokens = new Set<Address>();

  private constructor(local: LocalNetwork, committee: Committee, options: TestNetworkOptions) {
    this.local = local;
    this.committee = committee;
    this.#options = options;
    this.chain = createPublicClient({ transport: http(local.rpcUrl, { timeout: 10_000 }) });
    this.connections = connectSidecars(committee);
    this.maxValidity = local.committee.maxValidity;
    this.#processes = committee.validators.map((_, i) => local.sidecars[i]);
    this.#accounts.add(this.settler.address);
  }

  /** Starts anvil, deploys the vault and starts the sidecars. */
  static async start(options: TestNetworkOptions): Promise<TestNetwork> {
    const local = await startLocalNetwork({
      validators: options.validators,
      blockTimeSeconds: BLOCK_MILLIS / 1000,
      backend: false,
      ...(options.sidecars === undefined ? {} : { sidecars: options.sidecars }),
      ...(options.settlers === undefined ? {} : { settlers: options.settlers }),
      ...(options.maxValidity === undefined ? {} : { maxValidity: options.maxValidity }),
      ...(options.exitDelay === undefined ? {} : { exitDelay: options.exitDelay }),
      ...(options.sidecarArgs ? { sidecarArgs: options.sidecarArgs } : {}),
    });
    try {
      const committee = await loadCommittee(new URL(`file://${local.committee.path}`));
      const net = new TestNetwork(local, committee, options);
      for (const v of local.committee.validators) {
        net.#accounts.add((await readAccountKeyFile(v.settlerKeyPath)).address);
      }
      return net;
    } catch (e) {
      await local.stop();
      throw e;
    }
  }

  /** Stops every process, listener and proxy the test started, then anvil. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.#processes.map((p) => p?.stop()));
    await Promise.allSettled(this.#closers.map((close) => close()));
    await this.local.stop();
  }

  /** {@linkcode TestNetwork.stop} for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** The vault's address. */
  get vault(): Address {
    return this.committee.vault;
  }

  /** The Connect client of validator `i`'s endpoint. */
  client(i: number): Client<typeof FastPaySidecar> {
    return this.connections[i].client;
  }

  /** The base URL of validator `i`'s endpoint. */
  url(i: number): string {
    return this.committee.validators[i].endpoint;
  }

  /** Indices of the validators whose sidecar process runs. */
  get running(): number[] {
    return this.#processes.flatMap((p, i) => (p ? [i] : []));
  }

  // ---- processes ------------------------------------------------------------------------------

  /**
   * Starts validator `i`'s sidecar on its store (`--first-start` unless `firstStart` is false),
   * following `rpcUrl` (default anvil's), and waits until its chain view is current.
   */
  async spawn(i: number, options: { firstStart?: boolean; rpcUrl?: string } = {}): Promise<void> {
    assert.equal(this.#processes[i], undefined, `validator ${i}'s sidecar already runs`);
    const [process] = await spawnSidecars({
      committee: this.local.committee,
      rpcUrl: options.rpcUrl ?? this.local.rpcUrl,
      dir: this.local.dataDir,
      validators: [this.local.committee.validators[i]],
      blockIntervalMillis: BLOCK_MILLIS,
      firstStart: options.firstStart ?? true,
      ...(this.#options.settlers === undefined ? {} : { settlers: this.#options.settlers }),
      ...(this.#options.sidecarArgs ? { extraArgs: this.#options.sidecarArgs } : {}),
    });
    this.#processes[i] = process;
  }

  /** Kills validator `i`'s sidecar with SIGKILL (a crash) and waits until it is gone. */
  async kill(i: number): Promise<void> {
    const process = this.#processes[i];
    assert.ok(process, `validator ${i}'s sidecar does not run`);
    this.#processes[i] = undefined;
    process.kill("SIGKILL");
    await process.exited;
  }

  /**
   * Restarts validator `i`'s sidecar after a crash, on the same store — or, with `wipe`, on an
   * empty one (a store loss: no `--first-start`, as an operator restarting it would).
   */
  async restart(i: number, options: { wipe?: boolean } = {}): Promise<void> {
    if (this.#processes[i]) await this.kill(i);
    if (options.wipe) {
      const kv = `${this.local.committee.validators[i].name}.kv`;
      for await (const entry of Deno.readDir(this.local.dataDir)) {
        if (entry.name.startsWith(kv)) await Deno.remove(join(this.local.dataDir, entry.name));
      }
    }
    await this.spawn(i, { firstStart: false });
  }

  /**
   * Serves validator `i`'s endpoint with a Byzantine "sidecar" that signs whatever it is sent
   * with that validator's keys (from its key file) and shows an empty board.
   */
  async byzantine(i: number): Promise<void> {
    const validator = this.local.committee.validators[i];
    const key = await readKeyFile(validator.keyPath);
    const signer = CertificateSigner.create(key.secretKey, key.settlementKey, this.committee);
    const listener: Listener = serveConnect({
      hostname: "127.0.0.1",
      port: validator.port,
      readMaxBytes: 1 << 20,
      routes: (router) =>
        router.service(FastPaySidecar, {
          submitFastPay(req) {
            const { order } = signedOrderFromProto(req.order);
            const txHash = orderTxHash(order);
            const effectsHash = orderEffectsHash(order);
            const certificate = signer.sign(txHash, effectsHash, BigInt(Date.now()));
            return {
              txHash,
              effectsHash,
              result: { case: "certificate", value: certificateToProto(certificate) },
            };
          },
          getBulletinBoard(req) {
            return { entries: [], nextAfterSequence: req.afterSequence, hasMore: false };
          },
          getValidatorInfo: () => ({ name: validator.name, pubkey: signer.publicKey }),
        }),
    });
    this.#closers.push(() => listener.close());
  }

  /** A TCP proxy to anvil's RPC that the test can black-hole; closed with the network. */
  rpcProxy(): RpcProxy {
    const proxy = startRpcProxy(this.local.rpcUrl);
    this.#closers.push(() => proxy.close());
    return proxy;
  }

  // ---- accounts -------------------------------------------------------------------------------

  /**
   * A new payer whose wallet is funded and who deposited `deposits` (token → amount; a bigint is
   * pathUSD), once every running sidecar has processed the deposits.
   */
  async payer(deposits: bigint | Readonly<Record<Address, bigint>>): Promise<Payer> {
    const amounts: Record<Address, bigint> = typeof deposits === "bigint"
      ? { [PATH_USD]: deposits }
      : { ...deposits };
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    this.#accounts.add(account.address);
    // pathUSD first: every deposit pays its fee in it.
    const { [PATH_USD]: usd = 0n, ...others } = amounts;
    await fundAndDeposit(this.local, key, { wallet: usd + USD, deposit: usd });
    await Promise.all(
      Object.entries(others).map(([token, amount]) =>
        fundAndDeposit(this.local, key, {
          wallet: amount,
          deposit: amount,
          token: token as Address,
        })
      ),
    );
    for (const [token, amount] of Object.entries(amounts)) {
      this.#tokens.add(getAddress(token));
      await this.waitLanes(
        `every sidecar sees ${account.address}'s deposit of ${amount} ${token}`,
        account.address,
        token as Address,
        (lane) => lane.balance === amount,
      );
    }
    return { key, account, address: account.address };
  }

  /** A new address with nothing, counted in the conservation check (a recipient). */
  recipient(): Address {
    const address = privateKeyToAccount(generatePrivateKey()).address;
    this.#accounts.add(address);
    return address;
  }

  // ---- time and orders ------------------------------------------------------------------------

  /** Chain time of the newest block (ms): what the sidecars judge expiry by, once processed. */
  async chainTime(): Promise<bigint> {
    return 1000n * (await this.chain.getBlock({ blockTag: "latest" })).timestamp;
  }

  /**
   * Signs an order of `payer`: chain and vault of this network, token pathUSD, no fee, memo
   * zero, `validBefore` 2.5 s short of W past chain time (never past the parent's), and the
   * parent's `tx_hash` when a certified parent is given.
   */
  async order(payer: Payer, fields: OrderFields): Promise<SignedOrder> {
    const { parent, ...rest } = fields;
    const parentOrder = typeof parent === "object" ? parent.signed.order : undefined;
    let validBefore = rest.validBefore ?? (await this.chainTime()) + this.maxValidity - 2500n;
    if (rest.validBefore === undefined && parentOrder && parentOrder.validBefore < validBefore) {
      validBefore = parentOrder.validBefore;
    }
    return await signOrder(payer.account, {
      chainId: this.committee.chainId,
      vault: this.vault,
      token: PATH_USD,
      fee: 0n,
      exit: false,
      memo: NO_PARENT,
      ...rest,
      payer: payer.address,
      validBefore,
      parent: typeof parent === "object" ? parent.txHash : parent ?? NO_PARENT,
    });
  }

  /** Sends one submission to validator `i` and decodes the answer. */
  async submit(i: number, submission: SubmitRequest): Promise<Answer> {
    const response = await this.client(i).submitFastPay(submission, { timeoutMs: 10_000 });
    const txHash = bytesToHex(response.txHash);
    if (response.result.case === "certificate") {
      return {
        txHash,
        certificate: certificateFromProto(response.result.value),
        certificateBytes: bytesToHex(toBinary(ValidatorCertificateSchema, response.result.value)),
      };
    }
    assert.equal(response.result.case, "reject", `${txHash}: neither certificate nor reject`);
    const { code, message } = response.result.value;
    return { txHash, reject: { code: rejectCodeFromProto(code), message } };
  }

  /**
   * Fans a submission out to the validators `to` (default all) and waits for every answer; the
   * result has a QC when enough of them signed.
   */
  async certify(signed: SignedOrder, wrapper: Wrapper = {}, to?: readonly number[]) {
    const connections = to ? to.map((i) => this.connections[i]) : this.connections;
    return await fanOut(this.committee, connections, request(signed, wrapper), {
      timeoutMillis: 10_000,
    }).complete;
  }

  /** Validator `i`'s `GetLane` of `(payer, token)`. */
  async lane(i: number, payer: Address, token: Address = PATH_USD): Promise<LaneState> {
    const lane = await this.client(i).getLane(
      { payer: hexToBytes(payer), token: hexToBytes(token) },
      { timeoutMs: 5000 },
    );
    return {
      appliedPrefix: lane.appliedPrefix,
      ...(lane.lockedTxHash.length ? { locked: bytesToHex(lane.lockedTxHash) } : {}),
      ...(lane.certificate
        ? { certificate: bytesToHex(toBinary(ValidatorCertificateSchema, lane.certificate)) }
        : {}),
      balance: BigInt(lane.balance),
      available: BigInt(lane.available),
      chainTime: lane.chainTimeUnixMillis,
    };
  }

  /** Waits until `check` holds for the lane at every running sidecar. */
  async waitLanes(
    what: string,
    payer: Address,
    token: Address,
    check: (lane: LaneState) => boolean,
  ): Promise<void> {
    await until(what, 15_000, async () => {
      const lanes = await Promise.all(this.running.map((i) => this.lane(i, payer, token)));
      return lanes.every(check);
    });
  }

  // ---- the vault ------------------------------------------------------------------------------

  /** Settles `orders` in one batch from the test's settler account. */
  async settle(orders: readonly CertifiedOrder[]): Promise<SettlementReceipt> {
    return await settleOrders(this.chain, this.settler, this.committee, orders, {
      feeToken: PATH_USD,
    });
  }

  /** The `tx_hash` the vault settled at an order's contention key, if any. */
  async settledAt(signed: SignedOrder): Promise<Hex | undefined> {
    const o = signed.order;
    return await readSettledTxHash(this.chain, this.vault, o.payer, o.token, o.seq);
  }

  /** Waits until the vault settled every one of `orders` (by the sidecars' settlers). */
  async waitSettled(orders: readonly CertifiedOrder[], millis = 20_000): Promise<void> {
    await until(`${orders.length} orders settled`, millis, async () => {
      const settled = await Promise.all(orders.map((o) => this.settledAt(o.signed)));
      return settled.every((hash, i) => hash === orders[i].txHash);
    });
  }

  /** Fails unless the vault settled every one of `orders` with its own `tx_hash`. */
  async assertSettled(orders: readonly CertifiedOrder[]): Promise<void> {
    for (const o of orders) {
      assert.equal(await this.settledAt(o.signed), o.txHash, `seq ${o.signed.order.seq} settled`);
    }
  }

  /** An account's vault balance in `token`. */
  async balance(account: Address, token: Address = PATH_USD): Promise<bigint> {
    return (await readAccount(this.chain, this.vault, account, token)).balance;
  }

  /** An account's wallet balance (outside the vault) in `token`. */
  async walletBalance(account: Address, token: Address = PATH_USD): Promise<bigint> {
    return await this.chain.readContract({
      address: token,
      abi: parseAbi(["function balanceOf(address) view returns (uint256)"]),
      functionName: "balanceOf",
      args: [account],
    });
  }

  /**
   * Conservation (SPEC §5): in every token deposited, the vault holds exactly the sum of the
   * vault balances of every account the test involved (payers, recipients, settlers).
   */
  async assertConservation(): Promise<void> {
    for (const token of this.#tokens) {
      const balances = await Promise.all([...this.#accounts].map((a) => this.balance(a, token)));
      const sum = balances.reduce((a, b) => a + b, 0n);
      assert.equal(await this.walletBalance(this.vault, token), sum, `conservation of ${token}`);
    }
  }

  /**
   * `settle` of `signed` with the attestations of exactly these certificates: what anyone holding
   * them, too few or not, can send the vault.
   */
  settleCall(signed: SignedOrder, certificates: readonly Certificate[]): TempoCall {
    const attestations = certificates
      .map((c) => ({ index: this.committee.indexOf(c.signer), signature: c.attestation }))
      .sort((a, b) => a.index - b.index);
    return settleCall(this.vault, { signed, epoch: this.committee.epoch, attestations });
  }

  /** Why the vault refuses `call` from `from` (its named error), or `undefined` if it would not. */
  async vaultRefusal(call: TempoCall, from: Address): Promise<string | undefined> {
    try {
      await this.chain.call({ account: from, to: call.to, data: call.data });
      return undefined;
    } catch (e) {
      const data = e instanceof BaseError
        ? (e.walk((x) => typeof (x as { data?: unknown }).data === "string") as
          | { data: Hex }
          | null)?.data
        : undefined;
      return data ? vaultError(data) : (e as Error).message;
    }
  }

  /** Sends one Tempo transaction of `calls` from `from` (fee in pathUSD); its receipt, if it succeeded. */
  async send(from: LocalAccount, calls: readonly TempoCall[]): Promise<TransactionReceipt> {
    const hash = await sendTempoTransaction(this.chain, from, {
      chainId: this.committee.chainId,
      calls,
      feeToken: PATH_USD,
      gas: 2_000_000n,
    });
    return await waitForSuccess(this.chain, hash);
  }

  /**
   * Moves chain time forward to at least `millis` (anvil's `evm_increaseTime`: the next blocks
   * carry it) and waits until every running sidecar has processed a block that late. Keep jumps
   * well under a minute in all: transactions are valid for 60 s of wall clock.
   */
  async advanceTo(millis: bigint): Promise<void> {
    const ahead = millis - await this.chainTime();
    if (ahead > 0n) {
      await this.chain.request({
        method: "evm_increaseTime",
        params: [Number((ahead + 999n) / 1000n)],
      } as never);
    }
    await until(`every sidecar's chain time reaches ${millis}`, 15_000, async () => {
      const heads = await Promise.all(this.running.map((i) => this.client(i).getChainHead({})));
      return heads.every((h) => h.timestampUnixMillis >= millis);
    });
  }

  /** Stops or resumes anvil's interval mining (a stalled chain). */
  async mining(on: boolean): Promise<void> {
    await this.chain.request({
      method: "evm_setIntervalMining",
      params: [on ? BLOCK_MILLIS / 1000 : 0],
    } as never);
  }
}

/**
 * Registers a test that starts a {@linkcode TestNetwork} and runs `body` on it, both within
 * `millis` (default 90 s: a loaded 2-core machine runs these tests 2-3 times slower than an idle
 * one), and stops the network whatever happens.
 */
export function networkTest(
  name: string,
  options: TestNetworkOptions & { readonly millis?: number },
  body: (net: TestNetwork, t: Deno.TestContext) => Promise<void>,
): void {
  Deno.test({ name, sanitizeResources: false, sanitizeOps: false }, async (t) => {
    const started = TestNetwork.start(options);
    try {
      await withDeadline(name, options.millis ?? 90_000, started.then((net) => body(net, t)));
    } finally {
      // Even when the deadline passed before the network was up: its start is bounded itself.
      await started.then((net) => net.stop(), () => {});
    }
  });
}

// ---- a proxy that can black-hole the RPC ---------------------------------------------------

/** A TCP proxy in front of one HTTP endpoint. */
export interface RpcProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /**
   * From now on, connections are accepted and their data read, but nothing is forwarded and
   * nothing answered — open connections included.
   */
  blackHole(): void;
  /** Forwards again; the connections that were silenced are closed, so clients reconnect. */
  heal(): void;
  close(): Promise<void>;
}

interface ProxiedConnection {
  readonly client: Deno.Conn;
  upstream?: Deno.Conn;
  silenced: boolean;
}

/** Starts a TCP proxy on 127.0.0.1 to `target` (an `http://HOST:PORT` URL on loopback). */
function startRpcProxy(target: string): RpcProxy {
  const { hostname, port } = new URL(target);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<ProxiedConnection>();
  let open = true;
  const end = (c: ProxiedConnection) => {
    connections.delete(c);
    for (const conn of [c.client, c.upstream]) {
      try {
        conn?.close();
      } catch {
        // already closed
      }
    }
  };
  const pump = async (c: ProxiedConnection, from: Deno.Conn, to: () => Deno.Conn | undefined) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
        const sink = to();
        if (!c.silenced && sink) {
          for (let sent = 0; sent < n;) sent += await sink.write(buffer.subarray(sent, n));
        }
      }
    } catch {
      // either side went away
    }
    end(c);
  };
  const serve = async (client: Deno.Conn) => {
    const c: ProxiedConnection = { client, silenced: !open };
    connections.add(c);
    if (!c.silenced) {
      try {
        c.upstream = await Deno.connect({ hostname, port: Number(port) });
      } catch {
        end(c);
        return;
      }
      pump(c, c.upstream, () => c.client);
    }
    await pump(c, client, () => c.upstream);
  };
  const accepting = (async () => {
    try {
      for await (const client of listener) serve(client);
    } catch {
      // closed
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    blackHole() {
      open = false;
      for (const c of connections) c.silenced = true;
    },
    heal() {
      open = true;
      for (const c of [...connections]) if (c.silenced) end(c);
    },
    async close() {
      listener.close();
      for (const c of [...connections]) end(c);
      await accepting;
    },
  };
}

// ---- metrics ---------------------------------------------------------------------------------

/** One metric family of the Prometheus text format, as `parse-prometheus-text-format` gives it. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly metrics: readonly {
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly count?: string;
  }[];
}

/** `GET /metrics` of `url`, parsed; fails unless every family has a `# HELP` line. */
export async function readMetrics(url: string): Promise<MetricFamily[]> {
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
  const families = parsePrometheusTextFormat(await response.text()) as MetricFamily[];
  assert.ok(families.length > 0, "metrics are empty");
  for (const f of families) assert.notEqual(f.help, "", `# HELP of ${f.name}`);
  return families;
}

/** The value of `name` with exactly `labels` (a counter or gauge); fails if it is not there. */
export function metric(
  families: readonly MetricFamily[],
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `metric ${name} is exposed`);
  const sample = family.metrics.find((m) =>
    JSON.stringify(m.labels ?? {}) === JSON.stringify(labels)
  );
  assert.ok(sample?.value !== undefined, `${name}${JSON.stringify(labels)} is exposed`);
  return Number(sample.value);
}

/** A fresh random 32-byte memo: orders that differ only in it conflict at their key. */
export function randomMemo(): Hex {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}
