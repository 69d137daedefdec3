#!/usr/bin/env node
// Prints otterdoc beside ShareDB for each scenario run by bench/compare.sh, as a markdown
// table: one row per figure, with the ratio in the direction where > 1 means otterdoc is
// better. Usage: node bench/compare.mjs <results dir>   (files <name>.otterdoc.json and
// <name>.sharedb.json for each run name).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node bench/compare.mjs <results dir>");
  process.exit(2);
}

// [label, path, better]: better is "higher" or "lower".
const FIGURES = [
  ["edits/s", ["ops_per_s"], "higher"],
  ["ack p50 ms", ["latency_ms", "ack", "p50"], "lower"],
  ["ack p99 ms", ["latency_ms", "ack", "p99"], "lower"],
  ["echo p50 ms", ["latency_ms", "echo", "p50"], "lower"],
  ["echo p99 ms", ["latency_ms", "echo", "p99"], "lower"],
  ["broadcast p50 ms", ["latency_ms", "broadcast", "p50"], "lower"],
  ["broadcast p99 ms", ["latency_ms", "broadcast", "p99"], "lower"],
  ["delivery p50 ms", ["latency_ms", "delivery", "p50"], "lower"],
  ["delivery p99 ms", ["latency_ms", "delivery", "p99"], "lower"],
  ["server CPU µs/op", ["server", "cpu_us_per_op"], "lower"],
  ["server CPU µs/delivery", ["server", "cpu_us_per_delivery"], "lower"],
  ["server RSS KiB/connection", ["server", "rss_kib_per_connection"], "lower"],
  ["bench CPU (share of a core)", ["client", "cpu_util"], null],
];

const get = (obj, path) => path.reduce((o, k) => (o == null ? null : o[k]), obj);
const fmt = (x) =>
  x == null ? "—" : typeof x === "number" ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(x >= 10 ? 1 : 3)) : String(x);

const names = [...new Set(readdirSync(dir).filter((f) => f.endsWith(".otterdoc.json")).map((f) => f.replace(/\.otterdoc\.json$/, "")))].sort();
if (names.length === 0) {
  console.error(`no *.otterdoc.json in ${dir}`);
  process.exit(1);
}
for (const name of names) {
  const ours = JSON.parse(readFileSync(join(dir, `${name}.otterdoc.json`), "utf8"));
  let peer = null;
  try {
    peer = JSON.parse(readFileSync(join(dir, `${name}.sharedb.json`), "utf8"));
  } catch {
    // otterdoc-only runs (trace, history, sizes ShareDB is not run at)
  }
  const params = Object.entries(ours.params).filter(([k, v]) => v != null && k !== "seed").map(([k, v]) => `${k}=${v}`).join(" ");
  console.log(`\n### ${name} (${ours.scenario}: ${params})\n`);
  console.log(peer ? "| figure | otterdoc | ShareDB | otterdoc advantage |\n|---|---|---|---|" : "| figure | otterdoc |\n|---|---|");
  for (const [label, path, better] of FIGURES) {
    const a = get(ours, path);
    const b = peer ? get(peer, path) : null;
    if (a == null && b == null) continue;
    if (!peer) {
      console.log(`| ${label} | ${fmt(a)} |`);
      continue;
    }
    let ratio = "—";
    if (better && typeof a === "number" && typeof b === "number" && a > 0 && b > 0) {
      ratio = `${(better === "higher" ? a / b : b / a).toFixed(2)}×`;
    }
    console.log(`| ${label} | ${fmt(a)} | ${fmt(b)} | ${ratio} |`);
  }
  for (const extra of Object.entries(ours.extra ?? {})) {
    const v = typeof extra[1] === "object" && extra[1] ? `p50 ${fmt(extra[1].p50)} / p99 ${fmt(extra[1].p99)} / max ${fmt(extra[1].max)}` : fmt(extra[1]);
    console.log(`| ${extra[0]} | ${v} |${peer ? " | |" : ""}`);
  }
  const notes = [...(ours.notes ?? []).map((n) => `otterdoc: ${n}`), ...((peer?.notes) ?? []).map((n) => `ShareDB: ${n}`)];
  if (ours.client?.saturated) notes.push("otterdoc's load generator saturated a core");
  if (peer?.client?.saturated) notes.push("ShareDB's load generator saturated a core");
  for (const n of notes) console.log(`\n- ${n}`);
}
