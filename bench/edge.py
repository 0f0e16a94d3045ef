"""The edge check in headless Chromium: time per clip (decode, VAD, model load, transcription)
for each encoder quantization of the browser model, its agreement with the server's transcript
of the same clip (word error rate between them), and the model download size.

Usage: python bench/edge.py   (after `make web`; uses Debian's chromium)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import Server, espeak, speech_assets, word_error_rate  # noqa: E402

MODEL = ROOT / "data" / "models" / "web" / "whisper-tiny.en"
ENCODERS = {"int8": "onnx/encoder_model_int8.onnx", "fp32": "onnx/encoder_model.onnx"}
SHARED = ["onnx/decoder_model_merged.onnx", "tokenizer.json", "config.json", "generation_config.json",
          "preprocessor_config.json", "tokenizer_config.json"]  # fmt: skip

CHECK = """async ([url, dtype]) => {
  const t0 = performance.now();
  const data = await (await fetch(url)).arrayBuffer();
  const decoded = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(data);
  const offline = new OfflineAudioContext(1, Math.ceil(decoded.duration * 16000), 16000);
  const source = offline.createBufferSource();
  source.buffer = decoded; source.connect(offline.destination); source.start();
  const pcm = (await offline.startRendering()).getChannelData(0);
  const decode_ms = performance.now() - t0;
  window.benchWorker ??= {};
  window.benchWorker[dtype] ??= new Worker("/static/dist/edge-worker.js", { type: "module" });
  const w = window.benchWorker[dtype];
  return await new Promise((resolve) => {
    w.onmessage = ({ data }) => { if (data.type !== "progress") resolve({ ...data, decode_ms }); };
    w.postMessage({ id: "bench", pcm, topic: null, encoderDtype: dtype }, [pcm.buffer]);
  });
}"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = {
            "beckett.wav (10 s)": speech_assets() / "beckett.wav",
            "two_cities.wav (44 s)": speech_assets() / "two_cities.wav",
            "economics espeak (25 s)": espeak(
                ROOT / "tests/data/speech/economics.txt", tmp / "economics.wav"
            ),
        }
        server = Server(tmp / "data", env={"AUDIODAS_WEB_MODEL_DIR": str(MODEL.parent)}).start()
        rows = []
        try:
            ids = {}
            for name, path in clips.items():
                with path.open("rb") as f:
                    ids[name] = httpx.post(
                        f"{server.url}/api/v1/recordings", files={"file": f}
                    ).json()["id"]
            server_text = {}
            for name, path in clips.items():
                with path.open("rb") as f:
                    server_text[name] = httpx.post(
                        f"{server.url}/v1/audio/transcriptions",
                        files={"file": f},
                        data={"model": "w"},
                        timeout=120,
                    ).json()["text"]
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium", headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
                )  # fmt: skip
                page = browser.new_page()
                page.goto(f"{server.url}/#/library")
                for dtype in ENCODERS:
                    for name in clips:
                        url = f"/api/v1/recordings/{ids[name]}/stream"
                        r = page.evaluate(CHECK, [url, dtype])
                        t = r["timings"]
                        # Whisper in the browser sees the first 30 s; compare like with like.
                        wer = (
                            word_error_rate(server_text[name], r.get("text", ""))
                            if "44 s" not in name
                            else None
                        )
                        rows.append(
                            (
                                dtype,
                                name,
                                r["decode_ms"],
                                t["vad_ms"],
                                t.get("load_ms", 0),
                                t.get("transcribe_ms", 0),
                                wer,
                                r.get("text", ""),
                            )
                        )
                browser.close()
        finally:
            server.stop()

    print("edge check in headless Chromium (wasm, 1 thread), Whisper tiny.en, fp32 decoder")
    print(
        f"{'encoder':>7} {'clip':<24} {'decode':>7} {'VAD':>6} {'load':>6} {'ASR':>7} {'WER vs server':>13}"
    )
    for dtype, name, dec, vad, load, asr, wer, _ in rows:
        w = "-" if wer is None else f"{wer:.3f}"
        print(
            f"{dtype:>7} {name:<24} {dec:>6.0f}ms {vad:>4.0f}ms {load:>4.0f}ms {asr:>5.0f}ms {w:>13}"
        )
    print(
        "(times in ms; load is the first clip's model load, then cached; two_cities WER covers its first 30 s only, so it is not comparable)"
    )
    print("\nmodel download size")
    shared = sum((MODEL / f).stat().st_size for f in SHARED)
    for dtype, encoder in ENCODERS.items():
        size = shared + (MODEL / encoder).stat().st_size
        print(f"  {dtype} encoder + fp32 decoder: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
