// Bundles the web app into the Python package's static folder (run by `make run`/`make test`).
import { build } from "esbuild";
import { cpSync, mkdirSync } from "node:fs";
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
  entryPoints: { app: join(here, "src", "app.js"), "edge-worker": join(here, "src", "edge-worker.js") },
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
console.log(`web app built in ${out}`);
