// A reference implementation of the otterdoc server's document loop (docs/protocol.md,
// "Transformation and the tie-break a client must mirror" and "Idempotent resubmission"):
// an incoming op is transformed through the history after its base with the incoming op on
// "left", applied, and recorded; a (client, seq) already accepted after the base is not applied
// again. Used by the in-memory simulation and the fake STOMP server.
import { TextOperation, transformThrough, type Component } from "../../src/operation.js";
import type { Submission } from "../../src/protocol.js";
import { codePointLength } from "../../src/utf16.js";

export interface Record {
  readonly version: number;
  readonly op: TextOperation;
  readonly client: string;
  readonly seq: number;
}

export type Outcome =
  | { readonly ok: true; readonly version: number; readonly duplicate: boolean; readonly record: Record }
  | { readonly ok: false; readonly code: string; readonly message: string };

export class ReferenceServer {
  text = "";
  readonly history: Record[] = [];
  /** Texts at each version, for presence and snapshot checks. */
  readonly texts: string[] = [""];
  maxDocCodePoints = Infinity;

  get version(): number {
    return this.history.length;
  }

  submit(s: Submission): Outcome {
    if (s.base > this.version) return { ok: false, code: "version-in-future", message: `base ${s.base}` };
    for (let v = s.base + 1; v <= this.version; v++) {
      const r = this.history[v - 1] as Record;
      if (r.client === s.client && r.seq === s.seq) return { ok: true, version: v, duplicate: true, record: r };
    }
    let op: TextOperation;
    try {
      op = TextOperation.fromJSON(s.op as Component[], codePointLength(this.texts[s.base] as string));
    } catch (e) {
      return { ok: false, code: "op-does-not-fit", message: (e as Error).message };
    }
    const applied = transformThrough(op, this.history.slice(s.base).map((r) => r.op), "left");
    const next = applied.apply(this.text);
    if (codePointLength(next) > this.maxDocCodePoints) {
      return { ok: false, code: "document-too-large", message: "too large" };
    }
    this.text = next;
    this.texts.push(next);
    const record = { version: this.version + 1, op: applied, client: s.client, seq: s.seq };
    this.history.push(record);
    return { ok: true, version: record.version, duplicate: false, record };
  }
}
