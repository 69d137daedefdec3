#!/usr/bin/env node
// Checks a driver.js --json result against the schema shared with the Rust bench tool.
//
//   node check.js result.json <scenario> [key=value ...]
//
// key=value pairs are extra expectations on top-level fields or, prefixed 'params.', on params:
// e.g. ops=40 params.editors=2.
// Exits 0 when the file is well-formed, 1 with one line per problem otherwise. The schema is
// spelled out here key by key on purpose: a comparison script reads both tools' files, so an
// extra, missing or renamed key is a bug even if the figures look fine.

import { readFileSync } from 'node:fs';

const LATENCY_KEYS = ['count', 'p50', 'p99', 'p999', 'max', 'mean'];
const SCHEMA = {
  target: 'string',
  scenario: 'string',
  params: {
    editors: 'int?', ops: 'int?', docs: 'int?', subscribers: 'int?', rate: 'number?', connections: 'int?', seed: 'int',
  },
  wall_s: 'number',
  ops: 'int',
  ops_per_s: 'number',
  deliveries: 'int',
  latency_ms: { ack: 'latency?', echo: 'latency?', broadcast: 'latency?', delivery: 'latency?' },
  server: {
    pid: 'int', cpu_s: 'number', cpu_us_per_op: 'number?', cpu_us_per_delivery: 'number?',
    rss_kib_before: 'int', rss_kib_after: 'int', rss_kib_peak: 'int', rss_kib_per_connection: 'number?',
  },
  client: { cpu_s: 'number', cpu_util: 'number', saturated: 'boolean' },
  converged: 'boolean?',
  notes: 'strings',
};

// Which latency kinds each scenario measures (non-null) and which it must leave null.
const LATENCY_BY_SCENARIO = {
  edit: { ack: true, echo: true, delivery: false },
  docs: { ack: true, echo: true, delivery: false },
  fanout: { ack: true, echo: false, delivery: true, broadcast: true },
  idle: { ack: false, echo: false, broadcast: false, delivery: false },
};

function checkValue(path, type, v, problems) {
  if (typeof type === 'object') {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return problems.push(`${path}: expected an object`);
    const want = Object.keys(type);
    const have = Object.keys(v);
    for (const k of want) if (!(k in v)) problems.push(`${path}.${k}: missing`);
    for (const k of have) if (!want.includes(k)) problems.push(`${path}.${k}: unexpected key`);
    for (const k of want) if (k in v) checkValue(`${path}.${k}`, type[k], v[k], problems);
    return;
  }
  const nullable = type.endsWith('?');
  const base = nullable ? type.slice(0, -1) : type;
  if (v === null) {
    if (!nullable) problems.push(`${path}: must not be null`);
    return;
  }
  const ok = {
    string: () => typeof v === 'string',
    boolean: () => typeof v === 'boolean',
    number: () => typeof v === 'number' && Number.isFinite(v) && v >= 0,
    int: () => Number.isInteger(v) && v >= 0,
    strings: () => Array.isArray(v) && v.every((s) => typeof s === 'string'),
    latency: () => {
      checkValue(path, Object.fromEntries(LATENCY_KEYS.map((k) => [k, k === 'count' ? 'int' : 'number'])), v, problems);
      if (v.count < 1) problems.push(`${path}.count: a measured latency needs at least one sample`);
      if (!(v.p50 <= v.p99 && v.p99 <= v.p999 && v.p999 <= v.max)) problems.push(`${path}: percentiles out of order`);
      return true;
    },
  }[base];
  if (!ok) return problems.push(`${path}: unknown schema type ${type}`);
  if (!ok()) problems.push(`${path}: expected ${base}, got ${JSON.stringify(v)}`);
}

export function check(result, scenario, expect = {}) {
  const problems = [];
  checkValue('$', SCHEMA, result, problems);
  if (problems.length) return problems;
  if (result.target !== 'sharedb') problems.push(`target: expected 'sharedb', got '${result.target}'`);
  if (result.scenario !== scenario) problems.push(`scenario: expected '${scenario}', got '${result.scenario}'`);
  for (const [kind, measured] of Object.entries(LATENCY_BY_SCENARIO[scenario] ?? {})) {
    const v = result.latency_ms[kind];
    if (measured && v === null) problems.push(`latency_ms.${kind}: expected a measurement for ${scenario}`);
    if (!measured && v !== null) problems.push(`latency_ms.${kind}: expected null for ${scenario}`);
  }
  if (scenario === 'idle') {
    if (result.ops !== 0) problems.push('ops: idle must report 0');
    if (result.server.rss_kib_per_connection === null) problems.push('server.rss_kib_per_connection: must be set for idle');
    if (result.converged !== null) problems.push('converged: must be null for idle');
  } else {
    if (result.converged !== true) problems.push(`converged: expected true, got ${result.converged}`);
    if (result.server.rss_kib_per_connection !== null) problems.push('server.rss_kib_per_connection: only idle sets it');
    if (result.ops > 0 && result.server.cpu_us_per_op === null) problems.push('server.cpu_us_per_op: must be set when ops > 0');
  }
  if ((result.deliveries > 0) !== (result.server.cpu_us_per_delivery !== null)) {
    problems.push('server.cpu_us_per_delivery: must be set exactly when deliveries > 0');
  }
  if (result.client.saturated !== result.client.cpu_util > 0.85) problems.push('client.saturated: disagrees with cpu_util');
  for (const [k, want] of Object.entries(expect)) {
    const have = k.startsWith('params.') ? result.params[k.slice('params.'.length)] : result[k];
    if (String(have) !== want) problems.push(`${k}: expected ${want}, got ${JSON.stringify(have)}`);
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, scenario, ...pairs] = process.argv.slice(2);
  if (!file || !scenario) {
    process.stderr.write('usage: node check.js result.json <scenario> [key=value ...]\n');
    process.exit(2);
  }
  let result;
  try {
    result = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`check.js: ${file}: ${err.message}\n`);
    process.exit(1);
  }
  const expect = Object.fromEntries(pairs.map((p) => p.split('=')));
  const problems = check(result, scenario, expect);
  for (const p of problems) process.stderr.write(`check.js: ${file}: ${p}\n`);
  process.exit(problems.length ? 1 : 0);
}
