#!/usr/bin/env node
// Load generator for the ShareDB side of the otterdoc benchmark suite.
//
//   node driver.js edit   --editors 8 --ops 500 [--json out.json]
//   node driver.js docs   --docs 4 --editors 4 --ops 200
//   node driver.js fanout --subscribers 1000 --rate 100 --ops 500
//   node driver.js idle   --connections 2000
//   node driver.js --help
//
// One Node process holds every simulated client, each an ordinary ShareDB client Connection
// over its own WebSocket (the fanout writer in a worker thread, see lib/writer.js). The server runs in a separate process (started here unless --url and
// --pid name a running one) so that its CPU and RSS can be read from /proc on their own. The
// result has the same JSON schema the Rust bench tool writes for otterdoc.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { parseDriverArgs, usage, UsageError } from './lib/cli.js';
import { cpuSeconds, processExists, openFileLimits, RssSampler } from './lib/proc.js';
import { summarize, round3, Samples, prng } from './lib/stats.js';
import { ALPHABET, COLLECTION, callback, connect as clientConnect, createDoc, subscribe, nowMs } from './lib/client.js';

// Driver-side fds besides the client sockets (stdio, the child's pipes, /proc reads, V8).
const FD_HEADROOM = 100;
// How many WebSocket handshakes are in flight at once while connecting. Unbounded, a few
// thousand SYNs at once overflow the server's accept backlog and some connects stall for a
// full SYN retransmit (1 s, 3 s...), which then looks like a slow server.
const CONNECT_CONCURRENCY = 128;
// All simulated clients share the driver's one event loop (only the fanout writer has a thread
// of its own): above this share of one core that loop, not the server, limits the figures.
const SATURATION = 0.85;

// ---------------------------------------------------------------------------------------------
// Process lifetime: one place that knows the child server, so every way out (done, error,
// timeout, Ctrl-C) stops it.

const state = { child: null, phaseText: 'starting', phaseFn: null, sockets: [], exiting: false };

// A phase is a string, or a function for one whose description (e.g. progress counters) is
// only worth computing when somebody reads it: the timeout and error messages.
function setPhase(p) {
  state.phaseFn = typeof p === 'function' ? p : null;
  state.phaseText = typeof p === 'function' ? null : p;
}

function phase() {
  try {
    return state.phaseFn ? state.phaseFn() : state.phaseText;
  } catch {
    return 'unknown phase';
  }
}

async function stopChild() {
  const child = state.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

async function fatal(message, code = 1) {
  if (state.exiting) return;
  state.exiting = true;
  process.stderr.write(`driver.js: ${message}\n`);
  for (const ws of state.sockets) ws.terminate();
  await stopChild();
  process.exit(code);
}

process.on('SIGINT', () => fatal('interrupted (SIGINT)', 130));
process.on('SIGTERM', () => fatal('terminated (SIGTERM)', 143));
process.on('exit', () => {
  // Last resort if something above never ran: never leave an orphaned server behind.
  if (state.child && state.child.exitCode === null) state.child.kill('SIGKILL');
});
process.on('unhandledRejection', (err) => fatal(`unexpected error: ${err?.stack ?? err}`));
process.on('uncaughtException', (err) => fatal(`unexpected error: ${err?.stack ?? err}`));

// ---------------------------------------------------------------------------------------------
// Small helpers.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves once `pred()` is true, checking every `ms`. The scenario's global timeout is what
// bounds it, so there is no timeout here.
async function until(pred, ms = 20) {
  while (!pred()) await sleep(ms);
}

async function mapLimit(n, limit, fn) {
  const out = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return out;
}

let startLoad = null;
function loadAverage() {
  return startLoad ?? 'unknown';
}
function readLoadAverage() {
  try {
    startLoad = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  } catch {
    startLoad = null;
  }
}

function codePoints(s) {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// Length change an ot-text-unicode op makes, in code points: a number skips, a string inserts,
// {d: n | "text"} deletes. Tracking it per editor saves re-counting the whole document before
// every edit.
function lengthDelta(op) {
  let delta = 0;
  for (const c of op) {
    if (typeof c === 'string') delta += codePoints(c);
    else if (c !== null && typeof c === 'object') delta -= typeof c.d === 'number' ? c.d : codePoints(c.d);
  }
  return delta;
}

// ---------------------------------------------------------------------------------------------
// Connecting.

// How many connections one local address can make to one server port: the ephemeral range,
// less a margin for ports in TIME_WAIT from earlier runs.
function portsPerAddress() {
  // Override for testing the multi-address path without opening ~30k connections.
  if (process.env.SHAREDB_PEER_PORTS_PER_ADDRESS) return Number(process.env.SHAREDB_PEER_PORTS_PER_ADDRESS);
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return Math.max(1000, hi - lo + 1 - 1000);
  } catch {
    return 27000;
  }
}

function localAddressPlan(url, total) {
  const perAddr = portsPerAddress();
  if (total <= perAddr) return () => undefined;
  const host = new URL(url).hostname;
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== 'localhost') {
    throw new UsageError(`${total} connections need more than one source address (${perAddr} ports each), which only works against a 127.x.x.x server, not ${host}`);
  }
  // Every 127/8 address is local on Linux, so 127.0.0.2, .3 ... can all reach a server bound to
  // 127.0.0.1, each with its own full range of ephemeral ports.
  return (i) => `127.0.0.${1 + Math.floor(i / perAddr)}`;
}

const hooks = { sockets: state.sockets, fail: (m) => fatal(m), exiting: () => state.exiting, phase };
const connect = (url, localAddress) => clientConnect(url, localAddress, hooks);

async function connectMany(url, n, label, fn) {
  const addr = localAddressPlan(url, n);
  let done = 0;
  return mapLimit(n, CONNECT_CONCURRENCY, async (i) => {
    const conn = await connect(url, addr(i));
    const r = await fn(conn, i);
    done++;
    setPhase(`connecting ${label} (${done}/${n})`);
    return r;
  });
}

// A fresh connection and a fresh fetch: what the server really holds, not a client's copy.
async function fetchFresh(url, ids) {
  const conn = await connect(url);
  const out = [];
  for (const id of ids) {
    const doc = conn.get(COLLECTION, id);
    await callback((cb) => doc.fetch(cb));
    out.push({ data: doc.data, version: doc.version });
  }
  return out;
}

// Document ids unique per run, so that against a long-running --url server every run still
// starts from a new, empty document.
function docId(scenario, seed, i) {
  return `${scenario}-${seed}-${process.pid}-${Date.now().toString(36)}-${i}`;
}

// ---------------------------------------------------------------------------------------------
// Measurement of the measured phase.

class Measure {
  constructor(pid) {
    this.pid = pid;
  }

  start() {
    this.sampler = new RssSampler(this.pid).start();
    this.rssBefore = this.sampler.last;
    this.cpuBefore = cpuSeconds(this.pid);
    this.clientCpu = process.cpuUsage();
    this.t0 = performance.now();
    return this;
  }

  stop() {
    this.t1 = performance.now();
    this.clientCpu = process.cpuUsage(this.clientCpu);
    this.cpuAfter = cpuSeconds(this.pid);
    this.sampler.stop();
    this.rssAfter = this.sampler.last;
    return this;
  }

  get phaseSeconds() {
    return (this.t1 - this.t0) / 1000;
  }

  get serverCpu() {
    return this.cpuAfter - this.cpuBefore;
  }

  get clientCpuSeconds() {
    return (this.clientCpu.user + this.clientCpu.system) / 1e6;
  }
}

function buildResult({ args, params, wallS, ops, deliveries, latency, m, converged, notes, rssPerConnection = null }) {
  const serverCpu = m.serverCpu;
  const clientCpu = m.clientCpuSeconds;
  const util = m.phaseSeconds > 0 ? clientCpu / m.phaseSeconds : 0;
  const saturated = util > SATURATION;
  if (saturated) {
    notes.push(`the driver used ${(util * 100).toFixed(0)}% of a core (over ${SATURATION * 100}%): these figures measure the load generator, not the server`);
  }
  // The figures are only as good as the machine was quiet: say how busy it was.
  notes.push(`load average ${loadAverage()} on ${availableParallelism()} cores at the start of the run`);
  const serverUtil = m.phaseSeconds > 0 ? serverCpu / m.phaseSeconds : 0;
  if (serverUtil > SATURATION) {
    notes.push(`the server used ${(serverUtil * 100).toFixed(0)}% of a core: ShareDB (single-threaded Node) was CPU-bound`);
  }
  return {
    target: 'sharedb',
    scenario: args.scenario,
    params: {
      editors: null, ops: null, docs: null, subscribers: null, rate: null, connections: null,
      ...params,
      seed: args.seed,
    },
    wall_s: round3(wallS),
    ops,
    ops_per_s: wallS > 0 && ops > 0 ? Math.round((ops / wallS) * 10) / 10 : 0,
    deliveries,
    latency_ms: { ack: null, echo: null, broadcast: null, delivery: null, ...latency },
    server: {
      pid: m.pid,
      cpu_s: round3(serverCpu),
      cpu_us_per_op: ops > 0 ? Math.round((serverCpu * 1e6 / ops) * 10) / 10 : null,
      cpu_us_per_delivery: deliveries > 0 ? Math.round((serverCpu * 1e6 / deliveries) * 10) / 10 : null,
      rss_kib_before: m.rssBefore,
      rss_kib_after: m.rssAfter,
      rss_kib_peak: m.sampler.peak,
      rss_kib_per_connection: rssPerConnection,
    },
    client: { cpu_s: round3(clientCpu), cpu_util: round3(util), saturated },
    converged,
    notes,
  };
}

// ---------------------------------------------------------------------------------------------
// edit and docs: E editors on each of D documents, one op in flight per editor.

async function runEditors(ctx, { docs, editors, ops }) {
  const { args, url, pid } = ctx;
  const notes = [];
  const ids = Array.from({ length: docs }, (_, d) => docId(args.scenario, args.seed, d));

  setPhase('creating documents');
  const setup = await connect(url);
  for (const id of ids) await createDoc(setup, id, '');

  // Per document, indexed by the version an op produced minus the version after the create
  // (so 1..total): when it was submitted, how many other editors have seen it, and when the
  // last one did.
  const total = editors * ops;
  const perDoc = ids.map(() => ({
    submitAt: new Float64Array(total + 2).fill(NaN),
    seen: new Uint32Array(total + 2),
    lastSeen: new Float64Array(total + 2),
    base: null,
    collisions: 0,
  }));

  const master = prng(args.seed);
  let deliveries = 0;
  const list = await connectMany(url, docs * editors, 'editors', async (conn, i) => {
    const d = i % docs;
    const doc = await subscribe(conn, ids[d]);
    const ed = { doc, d, len: codePoints(doc.data), rand: null };
    const track = perDoc[d];
    if (track.base === null) track.base = doc.version;
    // ShareDB bumps doc.version *before* it emits 'op' for a remote op, so inside the handler
    // doc.version is the version that op produced. A local op's 'op' event fires at submit time
    // with source === true and the old version; it is not a delivery and is skipped here.
    doc.on('op', (op, source) => {
      ed.len += lengthDelta(op);
      if (source) return;
      const now = performance.now();
      const v = doc.version - track.base;
      track.seen[v]++;
      if (now > track.lastSeen[v]) track.lastSeen[v] = now;
      deliveries++;
    });
    return ed;
  });
  // Seeds are drawn in editor order after connecting, so the edit script of editor i does not
  // depend on the order in which the connections happened to complete.
  for (const ed of list) ed.rand = prng(Math.floor(master() * 4294967296));
  for (const t of perDoc) {
    if (t.base !== 1) notes.push(`a document started at version ${t.base}, not 1`);
  }

  const acks = new Samples(total * docs);
  let firstSubmit = Infinity;
  let lastAck = 0;

  function runEditor(ed) {
    const track = perDoc[ed.d];
    return new Promise((resolve, reject) => {
      let done = 0;
      const step = () => {
        if (done === ops) return resolve();
        const r = ed.rand;
        let op;
        if (ed.len > 0 && r() < 0.25) {
          op = [Math.floor(r() * ed.len), { d: 1 }];
        } else {
          op = [Math.floor(r() * (ed.len + 1)), ALPHABET[Math.floor(r() * ALPHABET.length)]];
        }
        const t = performance.now();
        if (t < firstSubmit) firstSubmit = t;
        ed.doc.submitOp(op, (err) => {
          const now = performance.now();
          if (err) return reject(new Error(`submitOp failed: ${err.message ?? err}`));
          acks.push(now - t);
          if (now > lastAck) lastAck = now;
          // In the submitOp callback doc.version has also just been bumped past this op, so it
          // is the same number the other editors see in their 'op' handler for it.
          const v = ed.doc.version - track.base;
          if (!Number.isNaN(track.submitAt[v])) track.collisions++;
          track.submitAt[v] = t;
          done++;
          step();
        });
      };
      step();
    });
  }

  setPhase('editing');
  const m = new Measure(pid).start();
  await Promise.all(list.map(runEditor));
  // Acks are in; the last broadcasts may still be on the wire. The phase ends when every
  // editor has every op, so the server CPU includes all the fan-out work.
  setPhase('waiting for every editor to receive every op');
  await until(() => list.every((ed) => ed.doc.version === perDoc[ed.d].base + total));
  m.stop();

  setPhase('checking convergence');
  const fresh = await fetchFresh(url, ids);
  let converged = true;
  for (let d = 0; d < docs; d++) {
    const mine = list.filter((ed) => ed.d === d);
    const ref = fresh[d].data;
    const bad = mine.filter((ed) => ed.doc.data !== ref).length;
    if (bad > 0 || fresh[d].version !== perDoc[d].base + total) {
      converged = false;
      notes.push(`document ${d}: ${bad} of ${mine.length} editors differ from the server's copy (server version ${fresh[d].version}, expected ${perDoc[d].base + total})`);
    }
  }

  const broadcast = new Samples(total * docs);
  let incomplete = 0;
  let collisions = 0;
  for (const t of perDoc) {
    collisions += t.collisions;
    if (editors < 2) continue;
    for (let v = 1; v <= total; v++) {
      if (t.seen[v] === editors - 1 && !Number.isNaN(t.submitAt[v])) broadcast.push(t.lastSeen[v] - t.submitAt[v]);
      else incomplete++;
    }
  }
  if (collisions > 0) {
    converged = false;
    notes.push(`${collisions} acks reported a version another ack already had: version correlation is unreliable for this run`);
  }
  if (incomplete > 0) notes.push(`${incomplete} ops were not seen by every other editor as an 'op' event; left out of broadcast latency`);

  const ackStats = summarize(acks.values());
  notes.push("echo = ack: ShareDB never sends an editor's own op back; the submitOp callback (the server's ack) is the only confirmation it gets");
  if (editors > 1) {
    notes.push("broadcast = submit until the last other editor's 'op' event for it, matched by version: doc.version is bumped before a remote 'op' event and before the submitOp callback, so both read the version the op produced");
  } else {
    notes.push('broadcast: no other editors on a document, nothing to measure');
  }
  notes.push(`each editor: one op in flight; 75% insert of 1 code point, 25% delete of 1 (when non-empty), at a random position; seed ${args.seed}`);

  const wallS = (lastAck - firstSubmit) / 1000;
  return buildResult({
    args,
    params: { editors, ops, docs },
    wallS,
    ops: acks.length,
    deliveries,
    latency: { ack: ackStats, echo: ackStats, broadcast: summarize(broadcast.values()) },
    m,
    converged,
    notes,
  });
}

// ---------------------------------------------------------------------------------------------
// fanout: one writer at a fixed rate, S subscribers.

// Starts lib/writer.js in a worker thread (see there for why) and resolves once it is connected.
// The returned object starts it and resolves `done` with its per-op records.
function startWriter(params) {
  const worker = new Worker(new URL('./lib/writer.js', import.meta.url), { workerData: params });
  const w = { worker, sent: 0, acked: 0, stopping: false };
  let resolveDone;
  w.done = new Promise((r) => { resolveDone = r; });
  w.start = () => worker.postMessage({ type: 'start' });
  w.stop = () => {
    w.stopping = true;
    return worker.terminate();
  };
  return new Promise((resolve) => {
    worker.on('message', (msg) => {
      if (msg.type === 'ready') resolve(w);
      else if (msg.type === 'progress') Object.assign(w, { sent: msg.sent, acked: msg.acked });
      else if (msg.type === 'error') fatal(`${msg.message} (during ${phase()})`);
      else if (msg.type === 'done') {
        Object.assign(w, { sent: params.ops, acked: params.ops });
        resolveDone(msg);
      }
    });
    worker.on('error', (err) => fatal(`writer thread crashed: ${err.stack ?? err}`));
    worker.on('exit', (code) => {
      if (!state.exiting && !w.stopping) fatal(`writer thread exited (code ${code}) during ${phase()}`);
    });
  });
}

async function runFanout(ctx) {
  const { args, url, pid } = ctx;
  const { subscribers, rate, ops } = args;
  const notes = [];
  const id = docId('fanout', args.seed, 0);

  setPhase('creating the document');
  const setup = await connect(url);
  await createDoc(setup, id, '');

  // Indexed by version produced - base (1..ops). Times are nowMs(), the clock the writer thread
  // shares. Which op produced which version is only known from the writer's acks, handed over at
  // the end, so each delivery is kept as (version, time) until then.
  const seen = new Uint32Array(ops + 2);
  const lastSeen = new Float64Array(ops + 2);
  const seenV = new Samples(Math.min(subscribers * ops, 1 << 22));
  const seenT = new Samples(Math.min(subscribers * ops, 1 << 22));
  let deliveries = 0;
  let lastDelivery = 0;
  let base = null;

  const subs = await connectMany(url, subscribers, 'subscribers', async (conn) => {
    const doc = await subscribe(conn, id);
    if (base === null) base = doc.version;
    // See runEditors: in a remote 'op' event doc.version is the version the op produced.
    doc.on('op', (op, source) => {
      if (source) return;
      const now = nowMs();
      const v = doc.version - base;
      seen[v]++;
      if (now > lastSeen[v]) lastSeen[v] = now;
      if (now > lastDelivery) lastDelivery = now;
      deliveries++;
      seenV.push(v);
      seenT.push(now);
    });
    return doc;
  });

  setPhase('connecting the writer');
  const writer = await startWriter({ url, id, ops, rate, seed: args.seed, mode: args.writer });

  setPhase(() => `writing: ${writer.sent}/${ops} sent, ${writer.acked} acked, ${deliveries}/${subscribers * ops} deliveries`);
  const m = new Measure(pid).start();
  writer.start();
  const { sendAt, produced, ackAt, catchUp } = await writer.done;
  setPhase(() => {
    const behind = subs.filter((doc) => doc.version !== base + ops);
    const lowest = behind.reduce((lo, doc) => Math.min(lo, doc.version - base), ops);
    return `waiting for every subscriber to receive every op: ${deliveries}/${subscribers * ops} deliveries, ${behind.length} subscribers behind (furthest at op ${lowest})`;
  });
  await until(() => subs.every((doc) => doc.version === base + ops));
  m.stop();
  await writer.stop();

  const submitAtByVersion = new Float64Array(ops + 2).fill(NaN);
  const acks = new Samples(ops);
  let collisions = 0;
  let lastAck = 0;
  for (let k = 0; k < ops; k++) {
    const v = produced[k] - base;
    if (!Number.isNaN(submitAtByVersion[v])) collisions++;
    submitAtByVersion[v] = sendAt[k];
    acks.push(ackAt[k] - sendAt[k]);
    if (ackAt[k] > lastAck) lastAck = ackAt[k];
  }
  const delivery = new Samples(seenV.length);
  for (let i = 0; i < seenV.length; i++) {
    const s = submitAtByVersion[seenV.buf[i]];
    if (!Number.isNaN(s)) delivery.push(seenT.buf[i] - s);
  }
  const broadcast = new Samples(ops);
  for (let v = 1; v <= ops; v++) {
    if (seen[v] === subscribers && !Number.isNaN(submitAtByVersion[v])) broadcast.push(lastSeen[v] - submitAtByVersion[v]);
  }

  setPhase('checking convergence');
  const [fresh] = await fetchFresh(url, [id]);
  const differ = subs.filter((doc) => doc.data !== fresh.data).length;
  let converged = differ === 0 && fresh.version === base + ops;
  if (!converged) notes.push(`${differ} of ${subscribers} subscribers differ from the server's copy (server version ${fresh.version}, expected ${base + ops})`);
  if (collisions > 0) {
    converged = false;
    notes.push(`${collisions} acks reported a version another ack already had: version correlation is unreliable for this run`);
  }

  const expected = subscribers * ops;
  if (deliveries !== expected) notes.push(`${expected - deliveries} of ${expected} deliveries did not arrive as 'op' events (a subscriber that skips a version refetches the snapshot instead)`);
  if (ops > 1) {
    const offered = (ops - 1) / ((sendAt[ops - 1] - sendAt[0]) / 1000);
    if (Math.abs(offered - rate) / rate > 0.05) notes.push(`the writer achieved ${offered.toFixed(1)} ops/s, not the ${rate} asked for (its thread too busy to keep the timer)`);
    // The timer can keep its rate while the server falls behind: with --writer doc the excess
    // waits in the client's queue, which only the ack rate shows.
    const acked = ops / ((lastAck - sendAt[0]) / 1000);
    if (acked < rate * 0.95) notes.push(`acks came back at only ${acked.toFixed(1)} ops/s against ${rate} submitted: the server (or the machine) could not keep up, and latency includes the backlog`);
  }
  if (args.writer === 'raw') {
    notes.push("writer raw: protocol 'op' messages with v: null sent on the timer, many in flight; the server commits concurrent submits optimistically and retries (transforming) the losers, which one ShareDB client never causes");
  } else {
    notes.push('writer doc: an ordinary ShareDB Doc (preventCompose) in its own thread; submitOp on the timer, one op in flight, the rest queued in the client, and time spent in that queue counts in ack and delivery latency');
  }
  notes.push("delivery = submit until a subscriber's 'op' event, matched by version (the writer's doc.version after the ack = the doc.version a subscriber reads in its 'op' handler); broadcast = until the last subscriber has it");
  notes.push('wall_s and ops_per_s run from the first submit to the last delivery; driver cpu includes the writer thread');
  if (catchUp > 0) notes.push(`the server also sent the writer ${catchUp} of its own ops back as catch-up (ops it transformed a later pipelined op against); not counted as deliveries`);

  const wallS = (Math.max(lastDelivery, lastAck) - sendAt[0]) / 1000;
  return buildResult({
    args,
    params: { ops, docs: 1, subscribers, rate },
    wallS,
    ops,
    deliveries,
    latency: { ack: summarize(acks.values()), delivery: summarize(delivery.values()), broadcast: summarize(broadcast.values()) },
    m,
    converged,
    notes,
  });
}

// ---------------------------------------------------------------------------------------------
// idle: N subscribed connections, then nothing.

async function runIdle(ctx) {
  const { args, url, pid } = ctx;
  const notes = [];
  let n = args.connections;
  const cap = ctx.fdCap;
  if (n > cap) {
    notes.push(`asked for ${n} connections but the open-file limits (driver ${ctx.fdLimits.driver}, server ${ctx.fdLimits.server}) allow ${cap}: capped; raise 'ulimit -n' for more`);
    process.stderr.write(`driver.js: ${notes[notes.length - 1]}\n`);
    n = cap;
  }
  const id = docId('idle', args.seed, 0);
  setPhase('creating the document');
  const setup = await connect(url);
  await createDoc(setup, id, 'idle');

  // Let the freshly started server's RSS level off so that 'before' is not still growing.
  setPhase('waiting for the server RSS to settle (before)');
  const pre = new RssSampler(pid).start();
  const preDeadline = performance.now() + 10000;
  await until(() => pre.settled(1000) || performance.now() > preDeadline, 100);
  pre.stop();

  const m = new Measure(pid).start();
  setPhase('connecting');
  const tConnect = performance.now();
  const docs = await connectMany(url, n, 'idle connections', (conn) => subscribe(conn, id));
  const connectS = (performance.now() - tConnect) / 1000;

  setPhase(`waiting for the server RSS to settle (${args.settle} s flat)`);
  m.sampler.resetHistory();
  const settleMs = args.settle * 1000;
  const deadline = performance.now() + settleMs + 30000;
  await until(() => m.sampler.settled(settleMs) || performance.now() > deadline, 100);
  if (!m.sampler.settled(settleMs)) notes.push(`server RSS had not stayed flat for ${args.settle} s within 30 s; 'after' is the last reading`);
  m.stop();

  const stillUp = docs.filter((doc) => doc.subscribed && doc.connection.state === 'connected').length;
  if (stillUp !== n) notes.push(`${n - stillUp} of ${n} connections were no longer subscribed at the end`);
  const perConn = Math.round(((m.rssAfter - m.rssBefore) / n) * 100) / 100;
  notes.push(`rss_kib_per_connection = (after - before) / ${n}; every connection is subscribed to the same one document`);
  notes.push(`wall_s = time to open and subscribe all ${n} connections; cpu and RSS 'after' also cover the ${args.settle} s settle`);
  return buildResult({
    args,
    params: { connections: n, docs: 1 },
    wallS: connectS,
    ops: 0,
    deliveries: 0,
    latency: {},
    m,
    converged: null,
    notes,
    rssPerConnection: perConn,
  });
}

// ---------------------------------------------------------------------------------------------
// Output.

function printTable(r) {
  const p = Object.entries(r.params).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${v}`).join(' ');
  const lines = [`sharedb ${r.scenario}  ${p}`];
  const f = (x, d = 3) => (x === null || x === undefined ? '-' : typeof x === 'number' ? x.toFixed(d) : String(x));
  lines.push(`  ops             ${r.ops} in ${f(r.wall_s)} s = ${f(r.ops_per_s, 1)} ops/s`);
  lines.push(`  deliveries      ${r.deliveries}`);
  lines.push(`  latency ms        count      p50      p99     p999      max     mean`);
  for (const [k, s] of Object.entries(r.latency_ms)) {
    if (!s) continue;
    lines.push(`    ${k.padEnd(10)} ${String(s.count).padStart(9)} ${[s.p50, s.p99, s.p999, s.max, s.mean].map((x) => f(x).padStart(8)).join(' ')}`);
  }
  const s = r.server;
  lines.push(`  server pid ${s.pid}  cpu ${f(s.cpu_s)} s  ${f(s.cpu_us_per_op, 1)} us/op  ${f(s.cpu_us_per_delivery, 1)} us/delivery`);
  lines.push(`    rss KiB  before ${s.rss_kib_before}  after ${s.rss_kib_after}  peak ${s.rss_kib_peak}${s.rss_kib_per_connection !== null ? `  per connection ${s.rss_kib_per_connection}` : ''}`);
  lines.push(`  driver  cpu ${f(r.client.cpu_s)} s  util ${f(r.client.cpu_util, 2)}  saturated ${r.client.saturated ? 'YES' : 'no'}`);
  lines.push(`  converged       ${r.converged === null ? 'n/a' : r.converged}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  process.stdout.write(lines.join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------
// Main.

function connectionsNeeded(args) {
  switch (args.scenario) {
    case 'edit': return args.editors + 2;
    case 'docs': return args.docs * args.editors + 2;
    case 'fanout': return args.subscribers + 3;
    case 'idle': return args.connections + 2;
    default: return 0;
  }
}

// Node cannot raise its own RLIMIT_NOFILE, so when the soft limit is too low but the hard one
// allows more, the driver re-runs itself under `ulimit -n`. The child server inherits the
// raised limit too.
function reexecWithMoreFiles(needed) {
  if (process.env.SHAREDB_PEER_RAISED_NOFILE) return false;
  const { soft, hard } = openFileLimits();
  if (soft >= needed || hard <= soft) return false;
  const target = Math.min(hard, 1048576);
  const script = fileURLToPath(import.meta.url);
  const child = spawn('/bin/sh', ['-c', `ulimit -n ${target} && exec "$0" "$@"`, process.execPath, ...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, SHAREDB_PEER_RAISED_NOFILE: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.removeAllListeners(sig);
    process.on(sig, () => child.kill(sig));
  }
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
  return true;
}

async function startServer() {
  const serverPath = fileURLToPath(new URL('./server.js', import.meta.url));
  const child = spawn(process.execPath, [serverPath, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  state.child = child;
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('server.js printed no "sharedb listening on" line within 15 s')), 15000);
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      if (!state.exiting) fatal(`the server exited unexpectedly (${signal ?? `code ${code}`}) during ${phase()}`);
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buf += chunk;
      const m = /^sharedb listening on (\S+)$/m.exec(buf);
      if (m) {
        clearTimeout(t);
        resolve({ url: `ws://${m[1]}`, pid: child.pid });
      }
    });
  });
}

async function main() {
  let args;
  try {
    args = parseDriverArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`driver.js: ${err.message}\n\n${usage()}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (args.help) {
    process.stdout.write(usage() + '\n');
    return;
  }

  readLoadAverage();
  const conns = connectionsNeeded(args);
  if (reexecWithMoreFiles(conns + FD_HEADROOM)) return;

  const timer = setTimeout(() => {
    fatal(`scenario '${args.scenario}' did not finish within ${args.timeout} s (still ${phase()}); raise --timeout or lower the load`, 3);
  }, args.timeout * 1000);

  let url, pid;
  if (args.url) {
    url = args.url;
    pid = args.pid;
    if (!processExists(pid)) return fatal(`no process ${pid}: --pid must be the pid of the server at ${url}`, 2);
  } else {
    setPhase('starting server.js');
    ({ url, pid } = await startServer());
  }

  const driverSoft = openFileLimits().soft;
  const serverSoft = openFileLimits(pid).soft;
  const fdCap = Math.max(0, Math.min(driverSoft, serverSoft) - FD_HEADROOM);
  if (args.scenario !== 'idle' && conns > fdCap) {
    return fatal(`'${args.scenario}' needs ${conns} connections but the open-file limits (driver ${driverSoft}, server ${serverSoft}) allow about ${fdCap}; raise 'ulimit -n'`, 2);
  }

  const ctx = { args, url, pid, fdCap, fdLimits: { driver: driverSoft, server: serverSoft } };
  let result;
  try {
    if (args.scenario === 'edit') result = await runEditors(ctx, { docs: 1, editors: args.editors, ops: args.ops });
    else if (args.scenario === 'docs') result = await runEditors(ctx, { docs: args.docs, editors: args.editors, ops: args.ops });
    else if (args.scenario === 'fanout') result = await runFanout(ctx);
    else result = await runIdle(ctx);
  } catch (err) {
    return fatal(`${args.scenario} failed during ${phase()}: ${err.message ?? err}`);
  }
  clearTimeout(timer);

  printTable(result);
  if (args.json) {
    try {
      writeFileSync(args.json, JSON.stringify(result, null, 2) + '\n');
    } catch (err) {
      return fatal(`cannot write --json ${args.json}: ${err.message}`);
    }
  }

  state.exiting = true;
  for (const ws of state.sockets) ws.terminate();
  await stopChild();
  process.exit(result.converged === false ? 1 : 0);
}

main();
