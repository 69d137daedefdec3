#!/usr/bin/env node
// ShareDB peer server for the otterdoc benchmark suite.
//
// Runs in its own process (never inside the driver) so that its CPU time and RSS can be read
// from /proc/<pid> without the load generator's work mixed in. The only thing it ever writes
// to stdout is the single readiness line `sharedb listening on <ip>:<port>`, which the driver
// (or a person) waits for; everything else goes to stderr.
//
//   node server.js [--listen 127.0.0.1:0]

import { parseArgs } from 'node:util';
import ShareDB from 'sharedb';
import otText from 'ot-text-unicode';
import { WebSocketServer } from 'ws';
import WebSocketJSONStream from '@teamwork/websocket-json-stream';
import { parseHostPort } from './lib/cli.js';

function usage() {
  return 'usage: node server.js [--listen HOST:PORT]   (default 127.0.0.1:0, port 0 = any free port)';
}

let listen;
try {
  const { values } = parseArgs({
    options: { listen: { type: 'string', default: '127.0.0.1:0' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(usage() + '\n');
    process.exit(0);
  }
  listen = parseHostPort(values.listen, '--listen');
} catch (err) {
  process.stderr.write(`server.js: ${err.message}\n${usage()}\n`);
  process.exit(2);
}

// otterdoc counts positions in Unicode code points; ot-text-unicode does the same, so the two
// servers apply the same edits to the same text.
ShareDB.types.register(otText.type);

// Defaults on purpose: in-memory DB and pub/sub, no presence, no middleware. That is ShareDB at
// its cheapest, which keeps the comparison about the OT server itself rather than a database.
const backend = new ShareDB();

// perMessageDeflate off: otterdoc does not compress either, and deflate would dominate the CPU
// figures for messages this small.
const wss = new WebSocketServer({ host: listen.host, port: listen.port, perMessageDeflate: false });

wss.on('connection', (ws) => {
  // A client that vanishes mid-write must not crash the server; the agent cleans itself up when
  // the stream ends.
  ws.on('error', (err) => process.stderr.write(`server.js: websocket error: ${err.message}\n`));
  backend.listen(new WebSocketJSONStream(ws));
});

wss.on('error', (err) => {
  process.stderr.write(`server.js: cannot listen on ${listen.host}:${listen.port}: ${err.message}\n`);
  process.exit(1);
});

wss.on('listening', () => {
  const addr = wss.address();
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  process.stdout.write(`sharedb listening on ${host}:${addr.port}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  // wss.close() only stops accepting; open sockets would keep the process alive, so they are
  // dropped explicitly. A backstop timer makes sure a wedged close can never hang the caller.
  setTimeout(() => process.exit(0), 2000).unref();
  for (const client of wss.clients) client.terminate();
  wss.close(() => {
    backend.close(() => process.exit(0));
  });
}
process.on('SIGTERM', () => stop());
process.on('SIGINT', () => stop());
