"""The edge check in headless Chromium, for each candidate build of the browser model, in one
run: its download size, model load, time per clip (decode, VAD, transcription) and its agreement
with the server's transcript of the same audio (word error rate between them), on human and
synthetic speech, short and 30 s long. A candidate agrees when its mean WER against the server
is within 0.02 of the fp32 model's.

Usage: python bench/edge.py   (after `make web`; uses Debian's chromium)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import Server, espeak, ffmpeg, speech_assets, word_error_rate  # noqa: E402

MODEL = ROOT / "data" / "models" / "web" / "whisper-tiny.en"
SIDE = ["tokenizer.json", "config.json", "generation_config.json", "preprocessor_config.json",
        "tokenizer_config.json"]  # fmt: skip
CANDIDATES = {  # name -> (encoder dtype, decoder dtype), as transformers.js names the files
    "fp32 (reference)": ("fp32", "fp32"),
    "int8 enc + fp32 dec (before)": ("int8", "fp32"),
    "int8 enc + int8 dec (served)": ("int8", "int8"),
}
SUFFIX = {"int8": "_int8", "fp32": ""}

CHECK = """async ([url, encoder, decoder]) => {
  const t0 = performance.now();
  const data = await (await fetch(url)).arrayBuffer();
  const decoded = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(data);
  const offline = new OfflineAudioContext(1, Math.ceil(decoded.duration * 16000), 16000);
  const source = offline.createBufferSource();
  source.buffer = decoded; source.connect(offline.destination); source.start();
  const pcm = (await offline.startRendering()).getChannelData(0);
  const decode_ms = performance.now() - t0;
  window.benchWorker ??= new Worker("/static/dist/edge-worker.js", { type: "module" });
  const w = window.benchWorker;
  return await new Promise((resolve) => {
    w.onmessage = ({ data }) => { if (data.type !== "progress") resolve({ ...data, decode_ms }); };
    w.postMessage({ id: "bench", pcm, topic: null, dtype: { encoder, decoder } }, [pcm.buffer]);
  });
}"""


def size_of(encoder: str, decoder: str) -> int:
    files = [f"onnx/encoder_model{SUFFIX[encoder]}.onnx",
             f"onnx/decoder_model_merged{SUFFIX[decoder]}.onnx", *SIDE]  # fmt: skip
    return sum((MODEL / f).stat().st_size for f in files)


def clips(tmp: Path) -> dict[str, Path]:
    """At most 30 s each: the browser transcribes a file's first 30 s, the server all of it."""
    assets = speech_assets()

    def cut(source: Path, seconds: int, name: str) -> Path:
        ffmpeg("-i", str(source), "-t", str(seconds), str(tmp / name))
        return tmp / name

    found = {
        "beckett (human, 10 s)": assets / "beckett.wav",
        "clone-test (human, 4 s)": assets / "clone-test.wav",
        "endgame (human, 2 voices, 28 s)": assets / "endgame_nagg_nell.wav",
        "two_cities (human, 12 s)": cut(assets / "two_cities.wav", 12, "two_cities_12.wav"),
        "two_cities (human, 30 s)": cut(assets / "two_cities.wav", 30, "two_cities_30.wav"),
    }
    for topic in ("economics", "cooking", "sports"):
        long = espeak(ROOT / "tests" / "data" / "speech" / f"{topic}.txt", tmp / f"{topic}.wav")
        found[f"{topic} (espeak, 30 s)"] = cut(long, 30, f"{topic}_30.wav")
    found["economics (espeak, 8 s)"] = cut(tmp / "economics.wav", 8, "economics_8.wav")
    return found


def main() -> None:
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        audio = clips(Path(tmp))
        server = Server(
            Path(tmp) / "data", env={"AUDIODAS_WEB_MODEL_DIR": str(MODEL.parent)}
        ).start()
        try:
            ids, server_text = {}, {}
            for name, path in audio.items():
                with path.open("rb") as f:
                    ids[name] = httpx.post(
                        f"{server.url}/api/v1/recordings", files={"file": f}
                    ).json()["id"]
                with path.open("rb") as f:
                    server_text[name] = httpx.post(
                        f"{server.url}/v1/audio/transcriptions",
                        files={"file": f}, data={"model": "w"}, timeout=120,
                    ).json()["text"]  # fmt: skip
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path="/usr/bin/chromium", headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
                )  # fmt: skip
                for candidate, (encoder, decoder) in CANDIDATES.items():
                    context = (
                        browser.new_context()
                    )  # a fresh worker and cache: the first clip pays the load
                    page = context.new_page()
                    page.goto(f"{server.url}/#/library")
                    for name in audio:
                        url = f"/api/v1/recordings/{ids[name]}/stream"
                        r = page.evaluate(CHECK, [url, encoder, decoder])
                        t = r["timings"]
                        wer = word_error_rate(server_text[name], r.get("text", ""))
                        rows.append((candidate, name, r["decode_ms"], t["vad_ms"], t.get("load_ms", 0),
                                     t.get("transcribe_ms", 0), wer, r.get("text", "")))  # fmt: skip
                    context.close()
                browser.close()
        finally:
            server.stop()

    print(
        "edge check in headless Chromium (wasm, 1 thread), Whisper tiny.en; WER against the server"
    )
    print(
        f"{'candidate':<30} {'clip':<32} {'decode':>7} {'VAD':>6} {'load':>6} {'ASR':>7} {'WER':>6}"
    )
    for candidate, name, dec, vad, load, asr, wer, _ in rows:
        print(
            f"{candidate:<30} {name:<32} {dec:>5.0f}ms {vad:>4.0f}ms {load:>4.0f}ms {asr:>5.0f}ms {wer:>6.3f}"
        )
    print("(load: the model's first load in a fresh worker and cache, local server; then kept)\n")
    reference = None
    for candidate, (encoder, decoder) in CANDIDATES.items():
        mine = [r for r in rows if r[0] == candidate]
        mean_wer = statistics.mean(r[6] for r in mine)
        reference = mean_wer if reference is None else reference
        size = size_of(encoder, decoder)
        print(f"{candidate:<30} download {size / 1e6:6.1f} MB ({size / 2**20:5.1f} MiB)  "
              f"load {max(r[4] for r in mine) / 1000:4.1f} s  "
              f"mean ASR {statistics.mean(r[5] for r in mine) / 1000:4.2f} s  "
              f"mean WER {mean_wer:.3f}  "
              f"{'agrees' if mean_wer <= reference + 0.02 else 'DISAGREES'}")  # fmt: skip
    print("\nwhere a candidate's words differ from the server's:")
    for candidate, name, *_, wer, text in rows:
        if wer > 0:
            print(f"  {candidate} / {name} (WER {wer:.3f}): {text!r}")


if __name__ == "__main__":
    main()
