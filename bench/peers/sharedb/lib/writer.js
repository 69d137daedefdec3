// The fanout writer, run in a worker thread of the driver.
//
// Why a thread of its own: with `--writer doc` the writer keeps one op in flight, so the next op
// leaves only when the ack of the previous one has been handled. On the main thread that ack
// would wait behind the S deliveries of the same op that the subscribers are busy receiving, and
// the driver's own work would set the pace (about 14 ms per op at S=1000: under 100 ops/s, so
// the queue grows without bound while both processes sit mostly idle). A real writer is a
// separate client; its own event loop is the closest this one process can get to that.
//
// workerData: { url, id, ops, rate, seed, mode: 'doc' | 'raw' }
// messages out: {type:'ready'}, {type:'progress', sent, acked}, {type:'error', message},
//   {type:'done', sendAt, produced, ackAt, catchUp} (Float64Arrays indexed by op number,
//   times in nowMs(); produced = the document version each op produced)
// messages in: {type:'start'}

import { parentPort, workerData } from 'node:worker_threads';
import { prng } from './stats.js';
import { ALPHABET, COLLECTION, connect, subscribe, nowMs } from './client.js';

const { url, id, ops, rate, seed, mode } = workerData;
let failed = false;
let finished = false;
const fail = (message) => {
  if (failed || finished) return;
  failed = true;
  parentPort.postMessage({ type: 'error', message: `writer: ${message}` });
};

let phaseText = 'connecting the writer';
const hooks = { fail, exiting: () => finished || failed, phase: () => phaseText };

const sendAt = new Float64Array(ops).fill(NaN);
const produced = new Float64Array(ops).fill(NaN);
const ackAt = new Float64Array(ops).fill(NaN);
let acked = 0;
let catchUp = 0;
let sent = 0;

function onAck(k, version) {
  if (!Number.isNaN(ackAt[k])) return fail(`op ${k} acked twice`);
  ackAt[k] = nowMs();
  produced[k] = version;
  acked++;
  if (acked === ops) finish();
}

function finish() {
  finished = true;
  clearInterval(progress);
  parentPort.postMessage({ type: 'done', sendAt, produced, ackAt, catchUp }, [sendAt.buffer, produced.buffer, ackAt.buffer]);
}

// An ordinary ShareDB client: a subscribed Doc and submitOp. preventCompose keeps every op its own
// server op; otherwise the client merges whatever is queued behind the op in flight, and the
// server would see fewer, larger ops than were submitted.
async function docWriter(conn) {
  const doc = await subscribe(conn, id);
  doc.preventCompose = true;
  return (k, op) => {
    doc.submitOp(op, (err) => {
      if (err) return fail(`submitOp failed: ${err.message ?? err}`);
      // doc.version has already been bumped past this op: it is the version the op produced,
      // the same number a subscriber reads in its 'op' handler.
      onAck(k, doc.version);
    });
  };
}

// Without the client's one-op-in-flight queue: protocol 'op' messages sent on a normal
// Connection, with v: null ("apply at the current version", which the server accepts), so R
// ops/s really reach the server however long acks take.
function rawWriter(conn) {
  const seqBase = conn.seq;
  conn.on('receive', (request) => {
    const msg = request.data;
    if (msg.a !== 'op' || msg.d !== id) return;
    request.data = null; // ours alone; the Connection has no Doc to route it to
    if (msg.error) {
      fail(`the server rejected op seq ${msg.seq}: ${msg.error.message ?? JSON.stringify(msg.error)}`);
    } else if ('op' in msg || 'create' in msg || 'del' in msg) {
      // Not an ack: when an op had to be transformed, ShareDB first sends the submitter the ops
      // it was transformed against (here the writer's own earlier, still unacked ops) so that a
      // real client could catch up.
      catchUp++;
    } else {
      // An ack carries the version the op was applied at; it produced v + 1.
      onAck(msg.seq - seqBase, msg.v + 1);
    }
  });
  return (k, op) => {
    // The Connection's own counter, so the seq never collides with one it assigns itself.
    const seq = conn.seq++;
    if (seq - seqBase !== k) return fail(`seq out of step (${seq - seqBase} != ${k})`);
    conn.send({ a: 'op', c: COLLECTION, d: id, v: null, seq, op });
  };
}

function run(send) {
  const rand = prng(seed);
  const interval = 1000 / rate;
  const t0 = nowMs();
  // Op k is due at t0 + k/R. Each tick sends everything that is due, so a late timer catches up
  // instead of silently lowering the rate.
  const tick = () => {
    if (failed) return;
    const now = nowMs();
    while (sent < ops && t0 + sent * interval <= now) {
      sendAt[sent] = nowMs();
      // Always an insert at position 0, written [text] (a leading 0 skip is not normalised away
      // on the raw path and the type rejects it): valid at every version, so the raw writer's
      // ops stay valid in whatever order the server commits them.
      send(sent, [ALPHABET[Math.floor(rand() * ALPHABET.length)]]);
      sent++;
    }
    if (sent < ops) setTimeout(tick, Math.max(0, t0 + sent * interval - nowMs()));
  };
  tick();
}

let progress = null;
try {
  const conn = await connect(url, undefined, hooks);
  const send = mode === 'raw' ? rawWriter(conn) : await docWriter(conn);
  phaseText = 'writing';
  parentPort.on('message', (msg) => {
    if (msg.type !== 'start') return;
    // For the main thread's timeout message: how far the writer got.
    progress = setInterval(() => parentPort.postMessage({ type: 'progress', sent, acked }), 250);
    run(send);
  });
  parentPort.postMessage({ type: 'ready' });
} catch (err) {
  fail(err.message ?? String(err));
}
