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
const transcribers = {}; // by encoder dtype

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

// int8 encoder (MatMuls per channel) + fp32 decoder: chosen by agreement with the server (see README).
async function loadTranscriber(encoderDtype = "int8") {
  if (transcribers[encoderDtype]) return transcribers[encoderDtype];
  const probe = await fetch(`/models/${MODEL}/config.json`, { method: "HEAD" });
  if (!probe.ok) return null;
  transcribers[encoderDtype] = await pipeline("automatic-speech-recognition", MODEL, {
    device: "wasm",
    dtype: { encoder_model: encoderDtype, decoder_model_merged: "fp32" },
  });
  return transcribers[encoderDtype];
}

self.onmessage = async ({ data }) => {
  const { id, pcm, topic, seconds = 30, minSpeechSeconds = 1.0, encoderDtype } = data;
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
    const asr = await loadTranscriber(encoderDtype);
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
