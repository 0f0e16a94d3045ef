// The edge check, off the page's thread: voice activity (Silero VAD), then Whisper tiny.en on
// the opening, then the topic rule. Receives 16 kHz mono PCM; posts progress and a verdict.
import * as ort from "onnxruntime-web/webgpu"; // the build as transformers.js imports it: one runtime
import { env, pipeline } from "@huggingface/transformers";
import { score } from "./topics.js";

const BASE = new URL("./", import.meta.url).href; // .../static/dist/
ort.env.wasm.wasmPaths = BASE + "ort/";
ort.env.wasm.numThreads = 1;
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = "/models/";
env.backends.onnx.wasm.wasmPaths = BASE + "ort/";
env.backends.onnx.wasm.numThreads = 1;

const MODEL = "whisper-tiny.en";
const SAMPLE_RATE = 16000;
const FRAME = 512; // Silero v5 at 16 kHz
const CONTEXT = 64;
let vadSession = null;
const transcribers = {}; // loading or loaded, by "encoder/decoder" dtype

function post(type, payload) {
  self.postMessage({ type, ...payload });
}

// Silero's speech probability of each FRAME of the opening.
async function speechProbabilities(pcm, onProgress) {
  vadSession ??= await ort.InferenceSession.create(vadModel, { executionProviders: ["wasm"] });
  let state = new ort.Tensor("float32", new Float32Array(2 * 128), [2, 1, 128]);
  const sr = new ort.Tensor("int64", BigInt64Array.from([BigInt(SAMPLE_RATE)]), []);
  const frames = Math.floor(pcm.length / FRAME);
  const probabilities = new Float32Array(frames);
  // Silero v5 reads each frame with the 64 samples before it, as its own Python wrapper does.
  const window = new Float32Array(CONTEXT + FRAME);
  for (let i = 0; i < frames; i++) {
    window.copyWithin(0, FRAME, FRAME + CONTEXT);
    window.set(pcm.subarray(i * FRAME, (i + 1) * FRAME), CONTEXT);
    const input = new ort.Tensor("float32", window.slice(), [1, CONTEXT + FRAME]);
    const out = await vadSession.run({ input, state, sr });
    state = out.stateN;
    probabilities[i] = out.output.data[0];
    if (i % 200 === 0) onProgress(i / frames);
  }
  return probabilities;
}

const speechSecondsIn = (probabilities, from = 0, to = probabilities.length) =>
  (probabilities.subarray(from, to).filter((p) => p > 0.5).length * FRAME) / SAMPLE_RATE;

// Whisper is given windows of at most WINDOW_S, each ending at the quietest frame of its last
// CUT_SPAN_S, never a window its speech fills to the end: fed 30 s of unbroken speech (what
// cutting a longer file's first 30 s gives), whisper tiny.en heard only its last sentence, or
// words never said, where the same speech with a moment of silence after it was heard whole.
const WINDOW_S = 28;
const CUT_SPAN_S = 8;

function windowsOf(probabilities, samples) {
  const perSecond = SAMPLE_RATE / FRAME;
  const windows = [];
  let start = 0; // in frames
  const end = Math.ceil(samples / FRAME);
  while (start < end) {
    let stop = Math.min(end, start + Math.floor(WINDOW_S * perSecond));
    if (stop < end) {
      let quietest = stop;
      for (let f = stop; f >= Math.max(start + 1, stop - CUT_SPAN_S * perSecond); f--) {
        if (probabilities[f] < probabilities[quietest]) quietest = f;
      }
      stop = quietest;
    }
    windows.push([start, stop]);
    start = stop;
  }
  return windows;
}

// int8 encoder and decoder (MatMuls per channel, the decoder's shared token embedding per token):
// the smallest build that agrees with the server's transcripts (bench/edge.py, docs/performance.md).
const DEFAULT_DTYPE = { encoder: "int8", decoder: "int8" };
const CACHE_PREFIX = "audiodas-model-";
const RUNTIME_PREFIX = "audiodas-runtime-";

// Everything the check downloads, once, with its progress. The model's files and the runtime's
// large ones (ONNX Runtime's WebAssembly, the speech detector) go into Cache Storage, each under
// its build's name (a hash of its files: a rebuilt one, another name, replaces the old), checked
// against their hashes: transformers.js finds the model there, ONNX Runtime is handed the rest.
// (The HTTP cache would not do: a browser may keep no 27 MB entry, a private window keeps it in
// memory.) The runtime's small files (this worker, ONNX Runtime's loader) stay in the HTTP cache,
// which the server lets keep them (ETag, Cache-Control: no-cache). A later visit downloads none
// of it. (transformers.js's own progress callback would fetch each file once more for its size.)
const KEPT = /\.(wasm|onnx)$/;

async function keptCache(prefix, build) {
  if (typeof caches === "undefined") return null; // not a secure context: fetched as needed
  for (const name of await caches.keys()) {
    if (name.startsWith(prefix) && name !== prefix + build) await caches.delete(name);
  }
  return caches.open(prefix + build);
}

async function missingFiles(cache, base, files, keep = () => true) {
  const missing = [];
  for (const [file, about] of Object.entries(files)) {
    const url = base + file;
    const stored = keep(file) && cache;
    const present = stored
      ? await cache.match(url)
      : await fetch(url, { cache: "only-if-cached", mode: "same-origin" }).then((r) => r.ok, () => false);
    if (!present) missing.push({ url, ...about, cache: stored || null });
  }
  return missing;
}

async function download(id, files) {
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  let bytes = 0;
  let told = 0; // the page hears at most ten times a second
  const tell = () => {
    told = performance.now();
    post("progress", { id, step: "download", fraction: bytes / total, bytes, total });
  };
  for (const file of files) {
    const answer = await fetch(file.url, { cache: file.cache ? "no-store" : "default" });
    if (!answer.ok) throw new Error(`the speech check's ${file.url} answered ${answer.status}`);
    const reader = answer.body.getReader();
    const chunks = [];
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      if (file.cache) chunks.push(read.value); // the HTTP cache keeps the others
      bytes += read.value.length;
      if (performance.now() - told > 100) tell();
    }
    tell();
    if (!file.cache) continue;
    const blob = new Blob(chunks);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== file.sha256) throw new Error(`the speech check's ${file.url} arrived damaged: try again`);
    await file.cache.put(file.url, new Response(blob, { headers: answer.headers }));
  }
}

const WASM = "ort/ort-wasm-simd-threaded.asyncify.wasm";
const VAD = "silero_vad_v5.onnx";
let vadModel = BASE + VAD; // its bytes once kept

let prepared = null; // the download, once per worker (a failed one is tried again)
async function prepare(id) {
  prepared ??= (async () => {
    const [model, runtime] = await Promise.all(
      [`/models/${MODEL}/manifest.json`, BASE + "runtime.json"].map((url) => fetch(url, { cache: "no-store" }).then((r) => (r.ok ? r.json() : null))),
    );
    const runtimeCache = runtime && (await keptCache(RUNTIME_PREFIX, runtime.build));
    const modelCache = model && (await keptCache(CACHE_PREFIX, model.build));
    if (model) env.cacheKey = CACHE_PREFIX + model.build;
    const files = [
      ...(runtime ? await missingFiles(runtimeCache, BASE, runtime.files, (file) => KEPT.test(file)) : []),
      ...(model ? await missingFiles(modelCache, `${env.localModelPath}${MODEL}/`, model.files) : []),
    ];
    if (files.length) await download(id, files);
    if (runtimeCache && !vadSession) {
      const bytes = async (file) => new Uint8Array(await (await runtimeCache.match(BASE + file)).arrayBuffer());
      ort.env.wasm.wasmBinary = await bytes(WASM);
      vadModel = await bytes(VAD);
    }
    return model;
  })().catch((error) => {
    prepared = null;
    throw error;
  });
  return prepared;
}

async function loadTranscriber(id, { encoder, decoder } = DEFAULT_DTYPE) {
  const manifest = await prepare(id);
  if (!manifest) return null;
  post("progress", { id, step: "model", fraction: 0 });
  return pipeline("automatic-speech-recognition", MODEL, {
    device: "wasm",
    dtype: { encoder_model: encoder, decoder_model_merged: decoder },
  });
}

// Files checked together share one load; a model missing or failing is looked for again.
async function transcriber(id, dtype) {
  const key = `${dtype.encoder}/${dtype.decoder}`;
  transcribers[key] ??= loadTranscriber(id, dtype);
  try {
    const asr = await transcribers[key];
    if (!asr) delete transcribers[key];
    return asr;
  } catch (error) {
    delete transcribers[key];
    throw error;
  }
}

function verdictOf(topic, text) {
  const verdict = score(topic, text);
  const reason = verdict.on_topic
    ? "on topic"
    : `off topic for ${topic.label}: score ${verdict.score} < ${verdict.threshold}` +
      (verdict.matched.length ? ` (matched: ${verdict.matched.join(", ")})` : " (no topic words)");
  return { ok: verdict.on_topic, reason, verdict };
}

// pcm: the file's opening (app.js decodes at most its first minute). Its windows are heard one
// after the other until one of them, or all heard so far, is on topic.
self.onmessage = async ({ data }) => {
  const { id, pcm, topic, minSpeechSeconds = 1.0, dtype = DEFAULT_DTYPE } = data;
  const timings = {};
  try {
    let t = performance.now();
    await prepare(id);
    timings.download_ms = performance.now() - t;
    t = performance.now();
    post("progress", { id, step: "vad", fraction: 0 });
    const probabilities = await speechProbabilities(pcm, (fraction) => post("progress", { id, step: "vad", fraction }));
    timings.vad_ms = performance.now() - t;
    const speech = speechSecondsIn(probabilities);
    if (speech < minSpeechSeconds) {
      post("verdict", { id, ok: false, reason: `too little speech: ${speech.toFixed(1)} s found`, speech, timings });
      return;
    }
    post("progress", { id, step: "model", fraction: 0 });
    t = performance.now();
    const asr = await transcriber(id, dtype);
    timings.load_ms = performance.now() - t;
    if (!asr) {
      post("verdict", { id, ok: true, modelMissing: true, reason: "browser model not installed: checked voice activity only", speech, timings });
      return;
    }
    t = performance.now();
    const windows = windowsOf(probabilities, pcm.length).filter(([from, to]) => speechSecondsIn(probabilities, from, to) >= 0.5);
    const heard = [];
    let result = null;
    for (const [n, [from, to]] of windows.entries()) {
      post("progress", { id, step: "transcribe", fraction: n / windows.length });
      const { text } = await asr(pcm.subarray(from * FRAME, Math.min(pcm.length, to * FRAME)));
      heard.push(text.trim());
      if (!topic) break; // a speech check: what the first window says is shown
      // On topic as a whole so far, or in this window alone (a talk that comes to its topic late).
      const candidates = [verdictOf(topic, heard.join(" ")), verdictOf(topic, heard.at(-1))];
      result = candidates.find((c) => c.ok) ?? (result?.verdict.score >= candidates[0].verdict.score ? result : candidates[0]);
      if (result.ok) break;
    }
    timings.transcribe_ms = performance.now() - t;
    timings.windows = heard.length;
    const text = heard.join(" ");
    post("verdict", { id, ok: result?.ok ?? true, reason: result?.reason ?? "speech", text, verdict: result?.verdict ?? null, speech, timings });
  } catch (error) {
    post("error", { id, message: String(error?.message ?? error) });
  }
};
