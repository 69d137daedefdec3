// Command-line parsing for driver.js and server.js.
//
// Every flag is validated up front and a bad one is a UsageError with a sentence a person can
// act on: a benchmark that silently runs with a default instead of what was asked for produces
// figures nobody can trust.

import { parseArgs } from 'node:util';

export class UsageError extends Error {}

export const SCENARIOS = {
  edit: {
    summary: 'K editors on one document, one op in flight each',
    flags: { editors: 8, ops: 500 },
  },
  docs: {
    summary: 'D documents with E editors each, one op in flight each',
    flags: { docs: 4, editors: 4, ops: 200 },
  },
  fanout: {
    summary: 'one writer at a fixed rate, S subscribers receiving every op',
    flags: { subscribers: 100, rate: 100, ops: 500, writer: 'doc' },
  },
  idle: {
    summary: 'N idle subscribed connections; server RSS per connection',
    flags: { connections: 1000, settle: 2 },
  },
};

const FLAG_HELP = {
  editors: 'editors per document (each its own connection)',
  ops: 'ops per editor (edit, docs) or ops the writer submits in total (fanout)',
  docs: 'number of documents',
  subscribers: 'subscriber connections on the document',
  rate: 'writer ops per second (timer-driven, not one-in-flight)',
  connections: 'idle connections, each subscribed to the one document',
  settle: 'seconds the server RSS must stay flat before it is read',
  writer: "fanout writer: 'doc' (ShareDB Doc.submitOp, one op in flight, rest queued) or 'raw' (protocol messages, many in flight)",
};

const COMMON = {
  seed: { default: 1, help: 'PRNG seed (integer 0..4294967295)' },
  json: { default: null, help: 'write the result as JSON to this path' },
  url: { default: null, help: 'ws:// URL of an already running server (needs --pid)' },
  pid: { default: null, help: 'pid of that server, for /proc measurements' },
  timeout: { default: 300, help: 'seconds before the scenario is abandoned with an error' },
};

export function usage() {
  const lines = ['usage: node driver.js <scenario> [--flags]', '', 'scenarios:'];
  for (const [name, s] of Object.entries(SCENARIOS)) {
    const flags = Object.entries(s.flags).map(([f, d]) => `--${f} ${d}`).join(' ');
    lines.push(`  ${name.padEnd(7)} ${flags}`);
    lines.push(`          ${s.summary}`);
  }
  lines.push('', 'scenario flags:');
  for (const [f, h] of Object.entries(FLAG_HELP)) lines.push(`  --${f.padEnd(12)} ${h}`);
  lines.push('', 'common flags:');
  for (const [f, c] of Object.entries(COMMON)) {
    lines.push(`  --${f.padEnd(12)} ${c.help}${c.default != null ? ` (default ${c.default})` : ''}`);
  }
  lines.push('  --help       this text');
  lines.push('', 'Without --url the driver starts server.js as a child process and stops it at the end.');
  return lines.join('\n');
}

function positiveInt(name, raw, max = Number.MAX_SAFE_INTEGER) {
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a positive integer, got '${raw}'`);
  const n = Number(raw);
  if (n < 1 || n > max) throw new UsageError(`--${name} must be between 1 and ${max}, got ${raw}`);
  return n;
}

function positiveNumber(name, raw, { allowZero = false } = {}) {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    throw new UsageError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got '${raw}'`);
  }
  return n;
}

export function parseHostPort(raw, flag) {
  // Accepts 127.0.0.1:0, localhost:8080 and [::1]:0.
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw);
  if (!m) throw new UsageError(`${flag} must look like HOST:PORT (e.g. 127.0.0.1:0), got '${raw}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`${flag} port must be 0..65535, got ${port}`);
  return { host: m[1] ?? m[2], port };
}

export function parseDriverArgs(argv) {
  const options = { help: { type: 'boolean', short: 'h' } };
  for (const f of [...Object.keys(FLAG_HELP), ...Object.keys(COMMON)]) options[f] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length === 0) throw new UsageError('missing scenario (edit, docs, fanout or idle)');
  if (positionals.length > 1) throw new UsageError(`one scenario only, got: ${positionals.join(' ')}`);
  const scenario = positionals[0];
  const spec = SCENARIOS[scenario];
  if (!spec) throw new UsageError(`unknown scenario '${scenario}' (use edit, docs, fanout or idle)`);

  // A flag that belongs to another scenario is an error rather than ignored: `edit --docs 4`
  // would otherwise quietly measure one document.
  for (const f of Object.keys(FLAG_HELP)) {
    if (values[f] !== undefined && !(f in spec.flags)) {
      throw new UsageError(`--${f} does not apply to '${scenario}' (it takes: ${Object.keys(spec.flags).map((x) => '--' + x).join(' ')})`);
    }
  }

  const args = { scenario };
  for (const [f, def] of Object.entries(spec.flags)) {
    const raw = values[f];
    if (raw === undefined) args[f] = def;
    else if (f === 'rate') args[f] = positiveNumber(f, raw);
    else if (f === 'settle') args[f] = positiveNumber(f, raw, { allowZero: true });
    else if (f === 'writer') {
      if (raw !== 'doc' && raw !== 'raw') throw new UsageError(`--writer must be 'doc' or 'raw', got '${raw}'`);
      args[f] = raw;
    }
    else args[f] = positiveInt(f, raw);
  }

  args.seed = COMMON.seed.default;
  if (values.seed !== undefined) {
    if (!/^\d+$/.test(values.seed) || Number(values.seed) > 0xffffffff) {
      throw new UsageError(`--seed must be an integer 0..4294967295, got '${values.seed}'`);
    }
    args.seed = Number(values.seed);
  }
  args.timeout = values.timeout === undefined ? COMMON.timeout.default : positiveNumber('timeout', values.timeout);
  args.json = values.json ?? null;
  if (args.json === '') throw new UsageError('--json needs a path');

  args.url = values.url ?? null;
  args.pid = values.pid === undefined ? null : positiveInt('pid', values.pid, 4194304);
  if (args.url !== null) {
    let u;
    try { u = new URL(args.url); } catch { throw new UsageError(`--url is not a URL: '${args.url}'`); }
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new UsageError(`--url must be ws:// or wss://, got '${args.url}'`);
    if (args.pid === null) throw new UsageError('--url needs --pid too: the server\'s CPU and RSS are read from /proc/<pid>');
  } else if (args.pid !== null) {
    throw new UsageError('--pid only makes sense with --url (without --url the driver starts its own server)');
  }
  return args;
}
