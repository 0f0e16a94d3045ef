// Bundles the web app into the Python package's static folder (run by `make run`/`make test`).
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "audiodas", "web", "static", "dist");
// One ONNX Runtime for both models: the copy transformers.js was built against, whoever imports it.
const transformersDir = join(here, "node_modules", "@huggingface", "transformers");
const ort = join(transformersDir, "node_modules", "onnxruntime-web");
const oneOrt = {
  name: "one-onnxruntime",
  setup(b) {
    b.onResolve({ filter: /^onnxruntime-web(\/.*)?$/ }, (args) =>
      args.pluginData === "ort" ? undefined : b.resolve(args.path, { resolveDir: transformersDir, kind: args.kind, pluginData: "ort" }),
    );
  },
};

mkdirSync(join(out, "ort"), { recursive: true });
await build({
  entryPoints: {
    app: join(here, "src", "app.js"),
    "edge-worker": join(here, "src", "edge-worker.js"),
    "pcm-worklet": join(here, "src", "pcm-worklet.js"),
  },
  outdir: out,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: true,
  plugins: [oneOrt],
  logLevel: "warning",
});
// The WebGPU build loads its asyncify WebAssembly variant for the wasm (CPU) backend.
for (const name of ["ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm"]) {
  cpSync(join(ort, "dist", name), join(out, "ort", name));
}
cpSync(join(here, "node_modules", "@ricky0123", "vad-web", "dist", "silero_vad_v5.onnx"), join(out, "silero_vad_v5.onnx"));
// What the edge check downloads beside the model (runtime.json), with each file's hash and the
// build's: the worker keeps the large ones under the build's name and counts
// what its browser lacks into the first visit's download; the upload page states the whole.
const runtime = ["edge-worker.js", "ort/ort-wasm-simd-threaded.asyncify.mjs", "ort/ort-wasm-simd-threaded.asyncify.wasm", "silero_vad_v5.onnx"];
const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const files = Object.fromEntries(runtime.map((name) => {
  const data = readFileSync(join(out, name));
  return [name, { bytes: data.length, sha256: sha256(data) }];
}));
// Named by the large files alone: a new worker must not cost a browser the 27 MB again.
const kept = runtime.filter((name) => /\.(wasm|onnx)$/.test(name));
const runtimeBuild = sha256(kept.map((name) => files[name].sha256).join("")).slice(0, 16);
writeFileSync(join(out, "runtime.json"), JSON.stringify({ build: runtimeBuild, files }, null, 1));
console.log(`web app built in ${out}`);
