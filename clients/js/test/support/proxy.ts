// A TCP proxy between one client and the server that injects what networks do: random latency
// (order preserved), dropped connections, refusing connections while "offline", and cutting the
// connection just before the server's answer to an op reaches the client.
import { createConnection, createServer, type Server, type Socket } from "node:net";

import type { Rng } from "./random.js";

interface Link {
  client: Socket;
  upstream: Socket;
  dead: boolean;
}

export interface ProxyOptions {
  targetHost: string;
  targetPort: number;
  readonly rng: Rng;
  /** Each chunk is delayed by a random 0..maxLatencyMs (default 0). */
  readonly maxLatencyMs?: number;
}

export class FlakyProxy {
  private server: Server | null = null;
  private readonly links = new Set<Link>();
  private _online = true;
  /** When set, the next server→client chunk that matches cuts the connection instead. */
  cutWhen: ((serverToClient: string) => boolean) | null = null;
  cuts = 0;
  drops = 0;

  constructor(private readonly options: ProxyOptions) {}

  /** Sends new connections to another server (e.g. one restarted on another port). */
  retarget(host: string, port: number): void {
    this.options.targetHost = host;
    this.options.targetPort = port;
  }

  /** Starts listening; resolves to the port. */
  async listen(): Promise<number> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    return address.port;
  }

  get online(): boolean {
    return this._online;
  }

  /** Offline: drops every connection and refuses new ones until set online again. */
  setOnline(online: boolean): void {
    this._online = online;
    if (!online) this.dropAll();
  }

  /** Drops every connection at once, as a network failure would. */
  dropAll(): void {
    for (const link of this.links) {
      this.kill(link);
      this.drops++;
    }
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private kill(link: Link): void {
    if (link.dead) return;
    link.dead = true;
    link.client.destroy();
    link.upstream.destroy();
    this.links.delete(link);
  }

  private accept(client: Socket): void {
    if (!this._online) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: this.options.targetHost, port: this.options.targetPort });
    const link: Link = { client, upstream, dead: false };
    this.links.add(link);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const up = this.pipe(link, client, upstream, false);
    const down = this.pipe(link, upstream, client, true);
    client.on("error", () => this.kill(link));
    upstream.on("error", () => this.kill(link));
    // A side that closes still gets what was queued for the other side delivered first (the
    // server's last frames, e.g. an ERROR, before its close).
    client.on("close", () => up.whenDrained(() => this.kill(link)));
    upstream.on("close", () => down.whenDrained(() => this.kill(link)));
  }

  /** Forwards `from` → `to` with latency, in order. */
  private pipe(link: Link, from: Socket, to: Socket, serverToClient: boolean): { whenDrained(fn: () => void): void } {
    const queue: { at: number; chunk: Buffer }[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    let onDrained: (() => void) | null = null;
    let last = 0;
    const max = this.options.maxLatencyMs ?? 0;
    const drain = (): void => {
      timer = null;
      while (queue.length > 0 && !link.dead) {
        const head = queue[0]!;
        const wait = head.at - Date.now();
        if (wait > 0) {
          timer = setTimeout(drain, wait);
          return;
        }
        queue.shift();
        if (serverToClient && this.cutWhen && this.cutWhen(head.chunk.toString("latin1"))) {
          this.cutWhen = null;
          this.cuts++;
          this.kill(link);
          return;
        }
        to.write(head.chunk);
      }
      if (queue.length === 0 && onDrained) onDrained();
    };
    from.on("data", (chunk: Buffer) => {
      const at = Math.max(last, Date.now() + (max > 0 ? this.options.rng.next() * max : 0));
      last = at;
      queue.push({ at, chunk });
      if (!timer) drain();
    });
    return {
      whenDrained(fn) {
        if (queue.length === 0 || link.dead) fn();
        else onDrained = fn;
      },
    };
  }
}
