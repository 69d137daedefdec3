/**
 * Error codes: the server's stable codes (the error-code table of `docs/protocol.md`) and the few
 * the client adds for conditions it detects itself.
 *
 * @module
 */

/** Every code the otterdoc server can report, in the order `docs/protocol.md` lists them. */
export const SERVER_ERROR_CODES = [
  "malformed-body",
  "invalid-op",
  "invalid-doc-id",
  "unknown-destination",
  "version-in-future",
  "op-does-not-fit",
  "delete-mismatch",
  "op-too-large",
  "document-too-large",
  "not-found",
  "invalid-query",
  "transaction-aborted",
  "invalid-presence",
  "version-too-old",
  "unavailable",
  "route-not-found",
  "method-not-allowed",
  "length-required",
  "bad-request",
  "internal",
] as const;

/** A code the server reports on a rejected submission (RECEIPT `error` header, error event). */
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/**
 * Codes the client reports itself:
 *
 * - `protocol-error`: the server sent a STOMP ERROR frame (it then closes the connection; the
 *   client reconnects). `message` carries the server's text.
 * - `history-lost`: the server no longer has the version this client was at (its subscription
 *   with `version:<v>` was refused as `version-in-future`): unconfirmed local edits were dropped
 *   and the document reloaded.
 * - `unexpected-event`: an event broke the delivery contract (a gap in versions, an op that does
 *   not fit); the client resubscribes to recover.
 * - `invalid-change`: a local change given to the client was invalid (out of range, splitting a
 *   surrogate pair, overlapping). Nothing was applied.
 */
export type ClientErrorCode = "protocol-error" | "history-lost" | "unexpected-event" | "invalid-change";

/** Any code an {@link OtterdocError} can carry. */
export type ErrorCode = ServerErrorCode | ClientErrorCode;

/** True when `code` is one of the server's codes. */
export function isServerErrorCode(code: string): code is ServerErrorCode {
  return (SERVER_ERROR_CODES as readonly string[]).includes(code);
}

/**
 * Codes after which resubmitting the very same submission is safe and may succeed
 * (`internal`: storage failed; `unavailable`: the server is shutting down).
 */
export function isTransientErrorCode(code: ErrorCode): boolean {
  return code === "internal" || code === "unavailable";
}

/** What a submission or the connection ran into; emitted as the client's `error` event. */
export class OtterdocError extends Error {
  override readonly name = "OtterdocError";
  /** The stable code. */
  readonly code: ErrorCode;
  /** `"op"`: a submitted op; `"presence"`: a presence update; `"connection"`: the connection. */
  readonly source: "op" | "presence" | "connection" | "local";
  /** The `seq` of the op concerned, if any. */
  readonly seq: number | null;
  /** True when the client recovered by discarding unconfirmed local edits and reloading. */
  readonly reset: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: { source?: OtterdocError["source"]; seq?: number | null; reset?: boolean } = {},
  ) {
    super(message);
    this.code = code;
    this.source = options.source ?? "op";
    this.seq = options.seq ?? null;
    this.reset = options.reset ?? false;
  }
}
