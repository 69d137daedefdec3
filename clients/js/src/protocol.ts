/**
 * The JSON bodies and destinations of the otterdoc STOMP protocol (`docs/protocol.md`), with
 * parsers that check what the server sends before the client relies on it.
 *
 * @module
 */

import type { Component, Selection } from "./operation.js";

/** The body of `SEND /app/doc/<id>`. */
export interface Submission {
  readonly client: string;
  readonly seq: number;
  readonly base: number;
  readonly op: readonly Component[];
}

/** One accepted op, as broadcast on `/topic/doc/<id>`. */
export interface OpEvent {
  readonly type: "op";
  readonly doc: string;
  readonly version: number;
  readonly op: readonly Component[];
  readonly client: string;
  readonly seq: number;
  readonly user: string;
  readonly time: number;
}

/** The first message of a subscription made without a `version` header. */
export interface SnapshotEvent {
  readonly type: "snapshot";
  readonly doc: string;
  readonly version: number;
  readonly content: string;
}

/** A rejected SEND, as delivered on `/user/queue/errors`. */
export interface ErrorEvent {
  readonly type: "error";
  readonly code: string;
  readonly message: string;
  readonly doc: string | null;
  readonly client: string | null;
  readonly seq: number | null;
  readonly receipt: string | null;
}

/** The body of `SEND /app/doc/<id>/presence` (ranges in code points, at `version`). */
export interface PresenceSubmission {
  readonly client: string;
  readonly version: number;
  readonly selection: readonly Selection[];
  readonly name?: string;
  readonly color?: string;
}

/** A session's presence, as broadcast on `/topic/doc/<id>/presence`. */
export interface PresenceEvent {
  readonly type: "presence";
  readonly session: string;
  readonly client: string;
  readonly user: string;
  readonly version: number;
  readonly selection: readonly Selection[];
  readonly name?: string;
  readonly color?: string;
}

/** A session that left the document (`/topic/doc/<id>/presence`). */
export interface LeaveEvent {
  readonly type: "leave";
  readonly session: string;
}

/** A document id: 1–128 characters of `A–Z a–z 0–9 . _ ~ -`. */
export const DOC_ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;

/** True when `id` is a valid document id. */
export function isValidDocId(id: string): boolean {
  return DOC_ID_PATTERN.test(id);
}

/** Longest client id a submission may carry. */
export const MAX_CLIENT_ID_LENGTH = 64;

/** Destinations for document `doc`. */
export function destinations(doc: string): {
  topic: string;
  send: string;
  presenceTopic: string;
  presenceSend: string;
  errors: string;
} {
  return {
    topic: `/topic/doc/${doc}`,
    send: `/app/doc/${doc}`,
    presenceTopic: `/topic/doc/${doc}/presence`,
    presenceSend: `/app/doc/${doc}/presence`,
    errors: "/user/queue/errors",
  };
}

/** A body the server sent that does not have the documented shape. */
export class ProtocolParseError extends Error {
  override readonly name = "ProtocolParseError";
}

type Json = Record<string, unknown>;

function object(body: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new ProtocolParseError(`body is not JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ProtocolParseError("body is not a JSON object");
  }
  return value as Json;
}

function nat(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new ProtocolParseError(`${field} is not a non-negative integer`);
  }
  return v;
}

function str(v: unknown, field: string): string {
  if (typeof v !== "string") throw new ProtocolParseError(`${field} is not a string`);
  return v;
}

function optStr(v: unknown, field: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, field);
}

/** Parses a MESSAGE body of `/topic/doc/<id>`. */
export function parseDocEvent(body: string): OpEvent | SnapshotEvent {
  const o = object(body);
  if (o.type === "snapshot") {
    return { type: "snapshot", doc: str(o.doc, "doc"), version: nat(o.version, "version"), content: str(o.content, "content") };
  }
  if (o.type === "op") {
    if (!Array.isArray(o.op)) throw new ProtocolParseError("op is not an array");
    return {
      type: "op",
      doc: str(o.doc, "doc"),
      version: nat(o.version, "version"),
      op: o.op as Component[],
      client: str(o.client, "client"),
      seq: nat(o.seq, "seq"),
      user: typeof o.user === "string" ? o.user : "",
      time: typeof o.time === "number" ? o.time : 0,
    };
  }
  throw new ProtocolParseError(`unknown event type ${JSON.stringify(o.type)}`);
}

/** Parses a MESSAGE body of `/user/queue/errors`. */
export function parseErrorEvent(body: string): ErrorEvent {
  const o = object(body);
  return {
    type: "error",
    code: str(o.code, "code"),
    message: typeof o.message === "string" ? o.message : "",
    doc: typeof o.doc === "string" ? o.doc : null,
    client: typeof o.client === "string" ? o.client : null,
    seq: typeof o.seq === "number" ? o.seq : null,
    receipt: typeof o.receipt === "string" ? o.receipt : null,
  };
}

function parseSelection(v: unknown): Selection[] {
  if (!Array.isArray(v)) throw new ProtocolParseError("selection is not an array");
  return v.map((r: unknown, i) => {
    if (r === null || typeof r !== "object") throw new ProtocolParseError(`selection[${i}] is not an object`);
    const range = r as Json;
    return { anchor: nat(range.anchor, `selection[${i}].anchor`), head: nat(range.head, `selection[${i}].head`) };
  });
}

/** Parses a MESSAGE body of `/topic/doc/<id>/presence`. */
export function parsePresenceEvent(body: string): PresenceEvent | LeaveEvent {
  const o = object(body);
  if (o.type === "leave") return { type: "leave", session: str(o.session, "session") };
  if (o.type === "presence") {
    const name = optStr(o.name, "name");
    const color = optStr(o.color, "color");
    return {
      type: "presence",
      session: str(o.session, "session"),
      client: str(o.client, "client"),
      user: typeof o.user === "string" ? o.user : "",
      version: nat(o.version, "version"),
      selection: parseSelection(o.selection),
      ...(name === undefined ? {} : { name }),
      ...(color === undefined ? {} : { color }),
    };
  }
  throw new ProtocolParseError(`unknown presence event type ${JSON.stringify(o.type)}`);
}
