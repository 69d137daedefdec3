// ShareDB client plumbing shared by the driver's main thread and the fanout writer thread.

import WebSocket from 'ws';
import sharedbClient from 'sharedb/lib/client/index.js';
import otText from 'ot-text-unicode';

export const { Connection } = sharedbClient;
sharedbClient.types.register(otText.type);
export const TEXT = otText.type.uri;
export const COLLECTION = 'bench';

// Mostly ASCII, with a two-byte, a three-byte and a four-byte character (the otter is outside
// the BMP: one code point, two UTF-16 units) so that position arithmetic in code points is
// exercised on every run.
export const ALPHABET = [...'abcdefghijklmnopqrstuvwxyz  \n', 'é', '€', '🦦'];

// Milliseconds on a clock that every thread of the process shares. performance.now() is
// relative to each thread's own start, so timestamps taken in the writer thread and in the
// main thread could not be subtracted.
export function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function callback(fn) {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

// Opens a ShareDB Connection over its own WebSocket and resolves once the handshake is done.
// hooks.fail(message) is called for anything that goes wrong afterwards (a dropped connection
// invalidates the run; better to say so than to wait for ops that will never arrive), unless
// hooks.exiting() says the run is being torn down anyway. hooks.phase() describes what the run
// was doing, for those messages.
export function connect(url, localAddress, hooks) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
    hooks.sockets?.push(ws);
    const conn = new Connection(ws);
    const onError = (err) => reject(new Error(`cannot connect to ${url}${localAddress ? ` from ${localAddress}` : ''}: ${err.message}`));
    ws.once('error', onError);
    conn.on('error', (err) => hooks.fail(`ShareDB connection error (${hooks.phase()}): ${err.message ?? err}`));
    const onState = (newState, reason) => {
      if (newState === 'connected') {
        ws.off('error', onError);
        ws.on('error', (err) => hooks.fail(`websocket error (${hooks.phase()}): ${err.message}`));
        conn.off('state', onState);
        conn.on('state', (s, r) => {
          if (s !== 'connected' && !hooks.exiting()) hooks.fail(`a client connection went '${s}' during ${hooks.phase()}${r ? `: ${r}` : ''}`);
        });
        resolve(conn);
      } else if (newState === 'closed' || newState === 'stopped' || newState === 'disconnected') {
        reject(new Error(`connection to ${url} went '${newState}' before the handshake${reason ? `: ${reason}` : ''}`));
      }
    };
    conn.on('state', onState);
  });
}

export async function createDoc(conn, id, data) {
  const doc = conn.get(COLLECTION, id);
  await callback((cb) => doc.create(data, TEXT, cb));
  return doc;
}

export async function subscribe(conn, id) {
  const doc = conn.get(COLLECTION, id);
  await callback((cb) => doc.subscribe(cb));
  return doc;
}
