/**
 * The STOMP transport: one `@stomp/stompjs` client connected to otterdoc's `/ws` for one
 * document. It owns the socket, reconnection with exponential back-off and jitter, the
 * subscriptions and the SENDs, and reports raw bodies to its owner; it knows nothing about
 * operations.
 *
 * @module
 */

import { Client, ReconnectionTimeMode, type IFrame, type IMessage, type IStompSocket, type StompSubscription } from "@stomp/stompjs";

import { destinations } from "./protocol.js";

/** A WebSocket constructor: the browser's `WebSocket`, or `ws`'s default export in Node. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown;

/** The STOMP subprotocols offered, best first (browsers fail a connection offering none). */
export const STOMP_SUBPROTOCOLS = ["v12.stomp", "v11.stomp", "v10.stomp"];

/** Options of {@link StompConnection}. */
export interface ConnectionOptions {
  /** The WebSocket URL, e.g. `ws://127.0.0.1:8080/ws`. */
  readonly url: string;
  /** The document id. */
  readonly doc: string;
  /** WebSocket implementation (default `globalThis.WebSocket`; in Node pass `ws`'s export). */
  readonly WebSocket?: WebSocketConstructor;
  /** Full control over the socket (takes precedence over `WebSocket`). */
  readonly webSocketFactory?: () => unknown;
  /** Extra CONNECT headers (`login`, `passcode`, …). */
  readonly connectHeaders?: Readonly<Record<string, string>>;
  /** Heart-beat interval asked for in both directions, ms (default 10000; 0 disables). */
  readonly heartbeatMs?: number;
  /** First reconnection delay, ms (default 500); doubles up to `maxReconnectDelayMs`. */
  readonly reconnectDelayMs?: number;
  /** Longest reconnection delay, ms (default 15000). */
  readonly maxReconnectDelayMs?: number;
  /** Up to this many ms of random delay added before each reconnection attempt (default 250). */
  readonly reconnectJitterMs?: number;
  /** Give up on a connection attempt after this many ms (default 10000). */
  readonly connectionTimeoutMs?: number;
  /** stompjs debug log. */
  readonly debug?: (line: string) => void;
}

/** What the connection reports to its owner. */
export interface ConnectionHandlers {
  /** Connecting (first attempt or a reconnection). */
  connecting(): void;
  /**
   * STOMP CONNECTED: subscribe and send from here. `session` is the server's session id;
   * `features` the optional features it announced (its `features` header), or `null` when it
   * sent no such header (a server from before the header, which must be probed).
   */
  open(info: { session: string | null; server: string | null; features: readonly string[] | null }): void;
  /** The connection is gone (it will be retried unless paused or stopped). */
  close(info: { reason: string }): void;
  /** A MESSAGE on the document topic. */
  docMessage(body: string): void;
  /** A MESSAGE on the presence topic. */
  presenceMessage(body: string): void;
  /** A MESSAGE on `/user/queue/errors`. */
  errorMessage(body: string): void;
  /**
   * A STOMP ERROR frame (the server closes the connection after it). `aboutPresence`: it
   * answers the presence SUBSCRIBE (by its `receipt-id`), i.e. the server has no presence.
   */
  protocolError(message: string, info: { aboutPresence: boolean }): void;
}

/** The STOMP connection of one document. */
export class StompConnection {
  private readonly client: Client;
  private readonly dest: ReturnType<typeof destinations>;
  private docSub: StompSubscription | null = null;
  private presenceSub: StompSubscription | null = null;
  private subCounter = 0;
  private presenceReceipt: string | null = null;
  private attempts = 0;
  private lastClose = "";
  private stopped = false;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.dest = destinations(options.doc);
    const heartbeat = options.heartbeatMs ?? 10000;
    const jitter = options.reconnectJitterMs ?? 250;
    this.client = new Client({
      webSocketFactory: () => this.createSocket(),
      connectHeaders: { ...(options.connectHeaders ?? {}) },
      heartbeatIncoming: heartbeat,
      heartbeatOutgoing: heartbeat,
      reconnectDelay: options.reconnectDelayMs ?? 500,
      maxReconnectDelay: options.maxReconnectDelayMs ?? 15000,
      reconnectTimeMode: ReconnectionTimeMode.EXPONENTIAL,
      connectionTimeout: options.connectionTimeoutMs ?? 10000,
      discardWebsocketOnCommFailure: true,
      debug: options.debug ?? (() => {}),
      beforeConnect: async () => {
        if (this.attempts++ > 0 && jitter > 0) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * jitter));
        }
        if (!this.stopped) this.handlers.connecting();
      },
      onConnect: (frame: IFrame) => {
        this.docSub = null;
        this.presenceSub = null;
        const features = frame.headers.features;
        this.handlers.open({
          session: frame.headers.session ?? null,
          server: frame.headers.server ?? null,
          features: features === undefined ? null : features.split(",").map((f) => f.trim()).filter((f) => f !== ""),
        });
      },
      onStompError: (frame: IFrame) => {
        const message = frame.headers.message ?? frame.body;
        this.lastClose = `server error: ${message}`;
        const receipt = frame.headers["receipt-id"];
        this.handlers.protocolError(message, {
          aboutPresence: receipt !== undefined && receipt === this.presenceReceipt,
        });
      },
      onWebSocketClose: (event: { code?: number; reason?: string }) => {
        this.docSub = null;
        this.presenceSub = null;
        const reason = this.lastClose || `socket closed (code ${event?.code ?? "?"}${event?.reason ? `, ${event.reason}` : ""})`;
        this.lastClose = "";
        this.handlers.close({ reason });
      },
      onWebSocketError: () => {
        // Always followed by a close, which is what the owner acts on.
      },
    });
  }

  /** True while the STOMP session is up. */
  get connected(): boolean {
    return this.client.connected;
  }

  /** Starts connecting (and reconnecting whenever the connection drops). */
  start(): void {
    this.stopped = false;
    this.attempts = 0;
    this.client.activate();
  }

  /** Disconnects (gracefully, with DISCONNECT) and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.client.deactivate();
  }

  /** Drops the socket at once (no DISCONNECT); the client reconnects as after a network loss. */
  dropConnection(): void {
    this.client.forceDisconnect();
  }

  /** Subscribes to `/user/queue/errors`. */
  subscribeErrors(): void {
    this.client.subscribe(this.dest.errors, (m: IMessage) => this.handlers.errorMessage(m.body), {
      id: this.nextSubId("errors"),
    });
  }

  /**
   * (Re)subscribes to the document topic: from `version` (`version:<v>` header: every op after
   * it), or with `null` for a snapshot first. Replaces an earlier document subscription.
   */
  subscribeDocument(version: number | null): void {
    if (this.docSub) {
      this.docSub.unsubscribe();
      this.docSub = null;
    }
    const headers: Record<string, string> = { id: this.nextSubId("doc") };
    if (version !== null) headers.version = String(version);
    let sub: StompSubscription | null = null;
    sub = this.client.subscribe(
      this.dest.topic,
      (m: IMessage) => {
        if (this.docSub === sub) this.handlers.docMessage(m.body);
      },
      headers,
    );
    this.docSub = sub;
  }

  /**
   * Subscribes to the presence topic (everyone's current presence arrives first). The SUBSCRIBE
   * asks for a receipt so that a server without presence, which answers it with an ERROR, can be
   * told apart.
   */
  subscribePresence(): void {
    if (this.presenceSub) this.presenceSub.unsubscribe();
    const id = this.nextSubId("presence");
    this.presenceReceipt = `sub-${id}`;
    this.client.watchForReceipt(this.presenceReceipt, () => {});
    this.presenceSub = this.client.subscribe(this.dest.presenceTopic, (m: IMessage) => this.handlers.presenceMessage(m.body), {
      id,
      receipt: this.presenceReceipt,
    });
  }

  /**
   * SENDs an op submission with a `receipt` header; `onReceipt` gets the RECEIPT's headers
   * (`version` when accepted, `error` and `message` when rejected).
   */
  sendOp(body: string, receipt: string, onReceipt: (headers: Readonly<Record<string, string>>) => void): void {
    this.client.watchForReceipt(receipt, (frame: IFrame) => onReceipt(frame.headers));
    this.client.publish({
      destination: this.dest.send,
      headers: { receipt, "content-type": "application/json" },
      body,
    });
  }

  /** SENDs a presence update (no receipt; a rejection arrives on `/user/queue/errors`). */
  sendPresence(body: string): void {
    this.client.publish({ destination: this.dest.presenceSend, headers: { "content-type": "application/json" }, body });
  }

  private nextSubId(kind: string): string {
    return `${kind}-${++this.subCounter}`;
  }

  private createSocket(): IStompSocket {
    if (this.options.webSocketFactory) return this.options.webSocketFactory() as IStompSocket;
    const Ctor = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) {
      throw new Error(
        "no WebSocket implementation: pass the `WebSocket` option (in Node: `import WebSocket from \"ws\"`)",
      );
    }
    return new Ctor(this.options.url, STOMP_SUBPROTOCOLS) as IStompSocket;
  }
}
