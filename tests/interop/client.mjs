// A real STOMP client (@stomp/stompjs v7) against otterdoc: over the `ws` package on /ws; or,
// given a SockJS transport name, over `sockjs-client` (1.x) on the SockJS endpoint with only
// that transport allowed (`transports` option), as a Spring-STOMP frontend connects; or, given
// a tcp://host:port URL, over plain TCP (`@stomp/tcp-wrapper`, --stomp-tcp-listen).
// Driven by tests/it/interop.rs; usable by hand too:
//
//   node tests/interop/client.mjs ws://127.0.0.1:8080/ws <doc>
//   node tests/interop/client.mjs http://127.0.0.1:8080/sockjs <doc> xhr-polling
//   node tests/interop/client.mjs tcp://127.0.0.1:61613 <doc>
//
// (SockJS transports: websocket, xhr-streaming, xhr-polling, eventsource.)
//
// stdout carries exactly two lines for the driver, everything else goes to stderr:
//   READY          once subscribed, after this client's own op and an invalid op were answered;
//                  the driver then submits one op of its own at base 1 (e.g. POST /docs/<doc>/ops)
//   {...}          a JSON summary, once that other client's op arrived; then exit 0.
// Any failed check, STOMP ERROR, unexpected close or the overall timeout exits non-zero with
// "interop: FAIL ..." on stderr.

import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Client } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import SockJS from 'sockjs-client';
import WebSocket from 'ws';

const TIMEOUT_MS = Number(process.env.INTEROP_TIMEOUT_MS ?? 15000);
const [url, doc, sockjsTransport] = process.argv.slice(2);
if (!url || !doc) {
  process.stderr.write('usage: node client.mjs <ws-url> <doc-id> | <sockjs-url> <doc-id> <sockjs-transport>\n');
  process.exit(64);
}

const me = randomUUID();
let step = 'starting';
let finished = false;
let closing = false;

function fail(message) {
  if (finished) return;
  finished = true;
  process.stderr.write(`interop: FAIL during "${step}": ${message}\n`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

function eq(actual, expected, what) {
  check(
    isDeepStrictEqual(actual, expected),
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
  );
}

const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);

/** Frames one subscription (or one receipt) delivered, awaited one at a time. */
class Inbox {
  constructor() {
    this.items = [];
    this.waiters = [];
  }
  push(item) {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }
  next() {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

function expectReceipt(client, id) {
  const inbox = new Inbox();
  client.watchForReceipt(id, (frame) => inbox.push(frame));
  return () => inbox.next();
}

function parseBody(frame, what) {
  try {
    return JSON.parse(frame.body);
  } catch (e) {
    throw new Error(`${what}: body is not JSON (${e.message}): ${JSON.stringify(frame.body)}`);
  }
}

function headersOf(frame) {
  return { ...frame.headers };
}

const docEvents = new Inbox();
const errorEvents = new Inbox();
let socket;

const client = new Client({
  webSocketFactory: () => {
    if (url.startsWith('tcp://')) {
      const { hostname, port } = new URL(url);
      socket = new TCPWrapper(hostname, Number(port));
    } else if (sockjsTransport) {
      socket = new SockJS(url, null, { transports: [sockjsTransport] });
    } else {
      socket = new WebSocket(url, ['v10.stomp', 'v11.stomp', 'v12.stomp']);
    }
    return socket;
  },
  reconnectDelay: 0,
  connectionTimeout: 5000,
  heartbeatIncoming: 10000,
  heartbeatOutgoing: 10000,
  debug: (line) => {
    if (process.env.INTEROP_DEBUG) process.stderr.write(`stompjs: ${line}\n`);
  },
  onStompError: (frame) =>
    fail(`STOMP ERROR frame: ${JSON.stringify(frame.headers)} ${JSON.stringify(frame.body)}`),
  onWebSocketError: (event) => fail(`WebSocket error: ${event?.message ?? event}`),
  onWebSocketClose: (event) => {
    if (!closing) fail(`WebSocket closed early (code ${event?.code}, reason ${JSON.stringify(String(event?.reason ?? ''))})`);
  },
  onUnhandledReceipt: (frame) => fail(`unexpected RECEIPT ${JSON.stringify(frame.headers)}`),
  onUnhandledMessage: (frame) => fail(`MESSAGE for no subscription: ${JSON.stringify(frame.headers)}`),
  onConnect: (frame) => {
    run(frame).catch((e) => fail(e.message));
  },
});

async function run(connected) {
  step = 'CONNECTED';
  const transport = sockjsTransport ? socket.transport : null;
  if (sockjsTransport) {
    // SockJS negotiates no subprotocol; the transport it settled on is the one allowed.
    eq(socket.transport, sockjsTransport, 'SockJS transport in use');
  } else if (url.startsWith('tcp://')) {
    // Plain TCP has no subprotocol either: STOMP's own accept-version decided.
  } else {
    eq(socket.protocol, 'v12.stomp', 'negotiated WebSocket subprotocol');
  }
  eq(connected.headers.version, '1.2', 'CONNECTED version header');
  eq(client.connectedVersion, '1.2', 'stompjs connectedVersion');
  check(connected.headers.session, 'CONNECTED has a session header');

  step = 'SUBSCRIBE';
  const errorsReceipt = expectReceipt(client, 'sub-errors');
  client.subscribe('/user/queue/errors', (m) => errorEvents.push(m), {
    id: 'errors',
    receipt: 'sub-errors',
  });
  const docReceipt = expectReceipt(client, 'sub-doc');
  client.subscribe(`/topic/doc/${doc}`, (m) => docEvents.push(m), {
    id: 'doc',
    receipt: 'sub-doc',
  });
  await errorsReceipt();
  const snapshotFrame = await docEvents.next();
  const snapshot = parseBody(snapshotFrame, 'snapshot');
  eq(snapshot, { type: 'snapshot', doc, version: 0, content: '', hash: '0'.repeat(64) }, 'first message on the topic');
  eq(snapshotFrame.headers.subscription, 'doc', 'snapshot subscription header');
  eq(snapshotFrame.headers.destination, `/topic/doc/${doc}`, 'snapshot destination header');
  await docReceipt();

  step = 'own op';
  const opReceipt = expectReceipt(client, 'op-1');
  const ownSubmission = { client: me, seq: 1, base: 0, op: ['hello'] };
  client.publish({
    destination: `/app/doc/${doc}`,
    headers: { receipt: 'op-1', 'content-type': 'application/json' },
    body: JSON.stringify(ownSubmission),
  });
  const ownReceipt = await opReceipt();
  eq(ownReceipt.headers['receipt-id'], 'op-1', 'receipt-id of the op RECEIPT');
  eq(ownReceipt.headers.version, '1', 'version header of the op RECEIPT');
  check(!('error' in ownReceipt.headers), `op RECEIPT has no error header: ${JSON.stringify(ownReceipt.headers)}`);
  const ownFrame = await docEvents.next();
  const ownOp = parseBody(ownFrame, 'own op event');
  eq(
    [ownOp.type, ownOp.doc, ownOp.version, ownOp.client, ownOp.seq, ownOp.op],
    ['op', doc, 1, me, 1, ['hello']],
    'own op event [type, doc, version, client, seq, op]',
  );
  eq(ownFrame.headers.subscription, 'doc', 'own op subscription header');
  eq(ownFrame.headers['content-type'], 'application/json', 'own op content-type header');
  check(ownFrame.headers['message-id'], 'own op has a message-id header');

  step = 'invalid op';
  const badReceiptP = expectReceipt(client, 'op-bad');
  client.publish({
    destination: `/app/doc/${doc}`,
    headers: { receipt: 'op-bad' },
    body: JSON.stringify({ client: me, seq: 2, base: 1, op: [1.5] }),
  });
  const badReceipt = await badReceiptP();
  eq(badReceipt.headers.error, 'invalid-op', 'error header of the invalid op RECEIPT');
  check(badReceipt.headers.message, 'the invalid op RECEIPT has a message header');
  check(!('version' in badReceipt.headers), 'the invalid op RECEIPT has no version header');
  const errorFrame = await errorEvents.next();
  const errorEvent = parseBody(errorFrame, 'error event');
  eq(
    [errorEvent.type, errorEvent.code, errorEvent.doc, errorEvent.client, errorEvent.seq, errorEvent.receipt],
    ['error', 'invalid-op', doc, me, 2, 'op-bad'],
    'error event [type, code, doc, client, seq, receipt]',
  );
  eq(errorFrame.headers.subscription, 'errors', 'error event subscription header');
  eq(errorFrame.headers.destination, '/user/queue/errors', 'error event destination header');

  step = 'waiting for the other client op';
  process.stdout.write('READY\n');
  const otherFrame = await docEvents.next();
  const otherOp = parseBody(otherFrame, 'other op event');
  eq([otherOp.type, otherOp.doc, otherOp.version], ['op', doc, 2], 'other op event [type, doc, version]');
  check(otherOp.client !== me, `the other op comes from another client, got client ${otherOp.client}`);

  step = 'DISCONNECT';
  closing = true;
  await client.deactivate();
  finished = true;
  clearTimeout(timer);
  const summary = {
    ok: true,
    subprotocol: socket.protocol,
    transport,
    version: connected.headers.version,
    client: me,
    snapshot,
    ownReceipt: headersOf(ownReceipt),
    ownOp,
    badReceipt: headersOf(badReceipt),
    errorEvent,
    otherOp,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`, () => process.exit(0));
}

client.activate();
