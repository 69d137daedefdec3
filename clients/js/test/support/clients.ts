// Helpers to build OtterdocClients in Node tests and wait for conditions.
import WebSocket from "ws";

import { OtterdocClient, type OtterdocClientOptions } from "../../src/client.js";
import type { OtterdocError } from "../../src/errors.js";
import { STOMP_SUBPROTOCOLS } from "../../src/connection.js";

/** A client over `ws` (no compression, so a proxy can read the server's frames). */
export function makeClient(url: string, doc: string, options: Partial<OtterdocClientOptions> = {}): {
  client: OtterdocClient;
  errors: OtterdocError[];
} {
  const client = new OtterdocClient({
    url,
    doc,
    webSocketFactory: () => new WebSocket(url, STOMP_SUBPROTOCOLS, { perMessageDeflate: false }),
    reconnectDelayMs: 30,
    maxReconnectDelayMs: 300,
    reconnectJitterMs: 30,
    connectionTimeoutMs: 3000,
    retryDelayMs: 100,
    ...options,
  });
  const errors: OtterdocError[] = [];
  client.on("error", (e) => errors.push(e));
  return { client, errors };
}

/** Polls `cond` until it holds (or fails with `what` after `ms`). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 20000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `p`, or rejects after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}
