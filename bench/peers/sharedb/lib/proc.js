// Reading a process's CPU time, RSS and fd limit from /proc.
//
// The Rust bench tool reads the same files for otterdoc, so both servers are measured the same
// way from the outside; nothing here asks the server to report on itself.

import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = null;

// Clock ticks per second for utime/stime. It is 100 on every Linux we run on, but asking
// getconf costs nothing and keeps the figures right on a kernel built otherwise.
export function clockTicks() {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

// utime + stime of the whole process (all threads), in seconds.
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may itself contain spaces or ')', so the
  // fields are counted from the last ')'. After it come field 3 (state) onwards; utime and
  // stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  return (utime + stime) / clockTicks();
}

export function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status (is it a zombie?)`);
  return Number(m[1]);
}

export function processExists(pid) {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

// Soft and hard 'Max open files' of a process.
export function openFileLimits(pid = 'self') {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const num = (s) => (s === 'unlimited' ? Infinity : Number(s));
  return m ? { soft: num(m[1]), hard: num(m[2]) } : { soft: Infinity, hard: Infinity };
}

// Samples the server's RSS every 100 ms to catch the peak between the start and end readings,
// which a before/after pair would miss (e.g. a burst of queued messages that is freed again).
export class RssSampler {
  constructor(pid, intervalMs = 100) {
    this.pid = pid;
    this.intervalMs = intervalMs;
    this.peak = 0;
    this.last = 0;
    this.history = []; // [timeMs, kib], for the idle scenario's "has it settled" check
    this.timer = null;
  }

  sample() {
    try {
      this.last = rssKiB(this.pid);
    } catch {
      return this.last; // the server died; the scenario notices that on its own
    }
    if (this.last > this.peak) this.peak = this.last;
    this.history.push([performance.now(), this.last]);
    if (this.history.length > 600) this.history.splice(0, this.history.length - 600);
    return this.last;
  }

  start() {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  // True when every sample of the last `windowMs` is within `tolerance` of the latest one.
  settled(windowMs, tolerance = 0.01, floorKiB = 512) {
    if (this.history.length === 0) return false;
    const now = performance.now();
    const first = this.history[0][0];
    if (now - first < windowMs) return false;
    const latest = this.history[this.history.length - 1][1];
    const slack = Math.max(floorKiB, latest * tolerance);
    for (let i = this.history.length - 1; i >= 0 && now - this.history[i][0] <= windowMs; i--) {
      if (Math.abs(this.history[i][1] - latest) > slack) return false;
    }
    return true;
  }

  resetHistory() {
    this.history = [];
  }
}
