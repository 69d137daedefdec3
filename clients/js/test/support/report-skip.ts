// Run after the tests (npm's posttest): repeats, at the very end, that the integration tests
// were skipped because the server binary is missing — so nobody mistakes a green run for one
// that exercised the real server.
import { serverBinary } from "./server.js";

const bin = serverBinary();
if (!bin.exists) {
  const line = "!".repeat(100);
  process.stderr.write(
    `\n${line}\n!!! THE INTEGRATION TESTS AGAINST THE REAL SERVER WERE SKIPPED: no binary at ${bin.path}\n!!! Build it (cargo build --release) or set OTTERDOC_BIN. OTTERDOC_REQUIRE_SERVER=1 makes this an error.\n${line}\n`,
  );
}
