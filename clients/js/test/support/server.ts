// Starts a real otterdoc server for integration tests: the binary from OTTERDOC_BIN (default
// ../../target/release/otterdoc relative to the package), on 127.0.0.1:0 with a temporary data
// directory, stopped (SIGTERM) and cleaned up afterwards.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

import { fromPackage } from "./paths.js";

/** The server binary's path, and whether it exists. */
export function serverBinary(): { path: string; exists: boolean } {
  const path = process.env.OTTERDOC_BIN ? process.env.OTTERDOC_BIN : fromPackage("../../target/release/otterdoc");
  return { path, exists: existsSync(path) };
}

/**
 * The reason to skip the integration tests, or `undefined` to run them. Prints a loud banner
 * when skipping; with OTTERDOC_REQUIRE_SERVER=1 a missing binary is an error instead.
 */
export function integrationSkipReason(): string | undefined {
  const bin = serverBinary();
  if (bin.exists) return undefined;
  const reason = `otterdoc server binary not found at ${bin.path} (set OTTERDOC_BIN, or build it: cargo build --release)`;
  if (process.env.OTTERDOC_REQUIRE_SERVER === "1") throw new Error(`OTTERDOC_REQUIRE_SERVER=1 but ${reason}`);
  const line = "!".repeat(100);
  const banner = `\n${line}\n!!! SKIPPING THE INTEGRATION TESTS AGAINST THE REAL SERVER\n!!! ${reason}\n${line}\n\n`;
  process.stderr.write(banner);
  return reason;
}

export interface RunningServer {
  /** host:port */
  readonly addr: string;
  readonly host: string;
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  /** The data directory. */
  readonly data: string;
  /** Stops the server (SIGTERM) and removes the data directory unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

/** Starts the server; resolves once it prints `otterdoc listening on <addr>`. */
export async function startServer(extraArgs: string[] = [], dataDir?: string): Promise<RunningServer> {
  const bin = serverBinary();
  const data = dataDir ?? mkdtempSync(join(tmpdir(), "otterdoc-js-test-"));
  const child: ChildProcess = spawn(bin.path, ["serve", "--listen", "127.0.0.1:0", "--data", data, ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 20000) stderr = stderr.slice(-10000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const addr = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s; stderr: ${stderr}`)), 30000);
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const m = /otterdoc listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
  const [host, port] = [addr.slice(0, addr.lastIndexOf(":")), Number(addr.slice(addr.lastIndexOf(":") + 1))];
  return {
    addr,
    host,
    port,
    wsUrl: `ws://${addr}/ws`,
    httpUrl: `http://${addr}`,
    data,
    async stop(options = {}) {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 10000);
        await exited;
        clearTimeout(killer);
      }
      if (!options.keepData) rmSync(data, { recursive: true, force: true });
    },
  };
}

/** GET /docs/<id> → { version, content } (version 0, "" for a document without ops). */
export async function getDoc(server: RunningServer, doc: string): Promise<{ version: number; content: string }> {
  const res = await fetch(`${server.httpUrl}/docs/${doc}`);
  if (res.status === 404) return { version: 0, content: "" };
  if (!res.ok) throw new Error(`GET /docs/${doc}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { version: number; content: string };
}

/** Every op record of a document, paging through GET /docs/<id>/ops. */
export async function getOps(
  server: RunningServer,
  doc: string,
): Promise<{ version: number; op: (number | string)[]; client: string; seq: number }[]> {
  const out: { version: number; op: (number | string)[]; client: string; seq: number }[] = [];
  let from = 0;
  for (;;) {
    const res = await fetch(`${server.httpUrl}/docs/${doc}/ops?from=${from}&limit=1000`);
    if (res.status === 404) return out;
    const page = (await res.json()) as { ops: typeof out; next: number | null };
    out.push(...page.ops);
    if (page.next === null) return out;
    from = page.next;
  }
}
