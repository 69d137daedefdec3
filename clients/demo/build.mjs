// Builds the demo editor into ../../assets/demo/, the folder the server embeds
// (src/demo.rs): index.html, app.css, and app.js — main.ts with @otterdoc/client, its
// CodeMirror binding and CodeMirror itself, bundled and minified by esbuild.
//
//   node build.mjs           rebuild the committed bundle
//   node build.mjs --check   rebuild into a temporary folder and fail if the committed bundle
//                            differs (run by scripts/test.sh: the embedded copy is never stale)
//
// The output is deterministic (pinned esbuild and packages, no source maps, no paths in the
// minified code), so a fresh clone anywhere rebuilds the same bytes.
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, copyFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const committed = resolve(here, "../../assets/demo");
const client = resolve(here, "../js/src");
const check = process.argv.includes("--check");

if (!existsSync(resolve(here, "../js/node_modules/@stomp/stompjs"))) {
  console.error("clients/js has no node_modules: run `npm ci --prefix clients/js` first");
  process.exit(1);
}

/**
 * One copy of CodeMirror: the binding (in ../js/src) and main.ts must import the same
 * @codemirror/state and @codemirror/view, or extensions from one are foreign to the other.
 * Both resolve from this package.
 */
const oneCodeMirror = {
  name: "one-codemirror",
  setup(build) {
    build.onResolve({ filter: /^@codemirror\// }, async (args) => {
      if (args.pluginData === "resolved-here") return undefined;
      const result = await build.resolve(args.path, { kind: args.kind, resolveDir: here, pluginData: "resolved-here" });
      return result.errors.length > 0 ? { errors: result.errors } : { path: result.path };
    });
  },
};

async function buildInto(out) {
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: [join(here, "src/main.ts")],
    outfile: join(out, "app.js"),
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2020"],
    platform: "browser",
    legalComments: "none",
    charset: "utf8",
    logLevel: "warning",
    alias: {
      "@otterdoc/client/codemirror": join(client, "codemirror.ts"),
      "@otterdoc/client": join(client, "index.ts"),
    },
    plugins: [oneCodeMirror],
  });
  await esbuild.build({
    entryPoints: [join(here, "src/style.css")],
    outfile: join(out, "app.css"),
    bundle: true,
    minify: true,
    logLevel: "warning",
  });
  copyFileSync(join(here, "src/index.html"), join(out, "index.html"));
}

if (!check) {
  rmSync(committed, { recursive: true, force: true });
  await buildInto(committed);
  for (const f of readdirSync(committed)) console.log(`assets/demo/${f}: ${readFileSync(join(committed, f)).length} bytes`);
} else {
  const fresh = mkdtempSync(join(tmpdir(), "otterdoc-demo-"));
  try {
    await buildInto(fresh);
    const names = new Set([...readdirSync(fresh), ...(existsSync(committed) ? readdirSync(committed) : [])]);
    const stale = [...names].filter((f) => {
      const a = join(fresh, f);
      const b = join(committed, f);
      return !existsSync(a) || !existsSync(b) || !readFileSync(a).equals(readFileSync(b));
    });
    if (stale.length > 0) {
      console.error(`assets/demo is stale (${stale.join(", ")} differ from a fresh build): run \`npm run build --prefix clients/demo\` and commit the result`);
      process.exit(1);
    }
    console.log(`assets/demo is up to date (${[...names].join(", ")})`);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}
