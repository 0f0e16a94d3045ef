// The edge check, off the page's thread: voice activity (Silero VAD), then Whisper tiny.en on
// the opening seconds, then the topic rule. Receives 16 kHz mono PCM; posts progress and a verdict.
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

async function speechSeconds(pcm, onProgress) {
  vadSession ??= await ort.InferenceSession.create(BASE + "silero_vad_v5.onnx", { executionProviders: ["wasm"] });
  let state = new ort.Tensor("float32", new Float32Array(2 * 128), [2, 1, 128]);
  const sr = new ort.Tensor("int64", BigInt64Array.from([BigInt(SAMPLE_RATE)]), []);
  let speechFrames = 0;
  const frames = Math.floor(pcm.length / FRAME);
  // Silero v5 reads each frame with the 64 samples before it, as its own Python wrapper does.
  const window = new Float32Array(CONTEXT + FRAME);
  for (let i = 0; i < frames; i++) {
    window.copyWithin(0, FRAME, FRAME + CONTEXT);
    window.set(pcm.subarray(i * FRAME, (i + 1) * FRAME), CONTEXT);
    const input = new ort.Tensor("float32", window.slice(), [1, CONTEXT + FRAME]);
    const out = await vadSession.run({ input, state, sr });
    state = out.stateN;
    if (out.output.data[0] > 0.5) speechFrames++;
    if (i % 200 === 0) onProgress(i / frames);
  }
  return (speechFrames * FRAME) / SAMPLE_RATE;
}

// int8 encoder and decoder (MatMuls per channel, the decoder's shared token embedding per token):
// the smallest build that agrees with the server's transcripts (bench/edge.py, README).
const DEFAULT_DTYPE = { encoder: "int8", decoder: "int8" };
const CACHE_PREFIX = "audiodas-model-";

// The model's files go into Cache Storage under the build the server publishes (a hash of its
// files), checked against their hashes, before transformers.js loads them from there: a second
// visit downloads none of them, a rebuilt model (another name) replaces the old one, and the
// first download shows its progress. (transformers.js's own progress callback would fetch each
// file once more to learn its size.)
async function keepModel(id, manifest) {
  env.cacheKey = CACHE_PREFIX + manifest.build;
  if (typeof caches === "undefined") return; // transformers.js then fetches the files itself
  for (const name of await caches.keys()) {
    if (name.startsWith(CACHE_PREFIX) && name !== env.cacheKey) await caches.delete(name);
  }
  const cache = await caches.open(env.cacheKey);
  const base = `${env.localModelPath}${MODEL}/`; // the keys transformers.js looks up
  const missing = [];
  for (const [file, about] of Object.entries(manifest.files)) {
    if (!(await cache.match(base + file))) missing.push([file, about]);
  }
  const total = missing.reduce((sum, [, about]) => sum + about.bytes, 0);
  let bytes = 0;
  let told = 0; // the page hears at most ten times a second
  const tell = () => {
    told = performance.now();
    post("progress", { id, step: "download", fraction: bytes / total, bytes, total });
  };
  for (const [file, about] of missing) {
    const answer = await fetch(base + file, { cache: "no-store" });
    if (!answer.ok) throw new Error(`the speech model's ${file} answered ${answer.status}`);
    const reader = answer.body.getReader();
    const chunks = [];
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks.push(read.value);
      bytes += read.value.length;
      if (performance.now() - told > 100) tell();
    }
    tell();
    const blob = new Blob(chunks);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
    const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (hex !== about.sha256) throw new Error(`the speech model's ${file} arrived damaged: try again`);
    await cache.put(base + file, new Response(blob, { headers: answer.headers }));
  }
}

async function loadTranscriber(id, { encoder, decoder } = DEFAULT_DTYPE) {
  const answer = await fetch(`/models/${MODEL}/manifest.json`, { cache: "no-store" });
  if (!answer.ok) return null;
  const served = encoder === DEFAULT_DTYPE.encoder && decoder === DEFAULT_DTYPE.decoder;
  if (served) await keepModel(id, await answer.json()); // another build: bench/edge.py's, fetched as is
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

self.onmessage = async ({ data }) => {
  const { id, pcm, topic, seconds = 30, minSpeechSeconds = 1.0, dtype = DEFAULT_DTYPE } = data;
  const timings = {};
  try {
    let t = performance.now();
    post("progress", { id, step: "vad", fraction: 0 });
    const speech = await speechSeconds(pcm, (fraction) => post("progress", { id, step: "vad", fraction }));
    timings.vad_ms = performance.now() - t;
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
    post("progress", { id, step: "transcribe", fraction: 0 });
    t = performance.now();
    const opening = pcm.subarray(0, Math.min(pcm.length, seconds * SAMPLE_RATE));
    const { text } = await asr(opening);
    timings.transcribe_ms = performance.now() - t;
    const verdict = topic ? score(topic, text) : null;
    const ok = !verdict || verdict.on_topic;
    const reason = ok
      ? "on topic"
      : `off topic for ${topic.label}: score ${verdict.score} < ${verdict.threshold}` +
        (verdict.matched.length ? ` (matched: ${verdict.matched.join(", ")})` : " (no topic words)");
    post("verdict", { id, ok, reason, text: text.trim(), verdict, speech, timings });
  } catch (error) {
    post("error", { id, message: String(error?.message ?? error) });
  }
};
