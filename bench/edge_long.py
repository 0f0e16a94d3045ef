"""The browser check on long files, in headless Chromium against `audiodas serve`: for each
talk, the verdict, the words heard, the time to the verdict (from the file picked to the
verdict, on the card) and the tab's memory (the renderer processes' resident memory, sampled
every 50 ms, peak less what it was before). Then, in the same browser, what the check did
before it read only the opening: the whole file decoded with Web Audio and resampled, for the
one-hour MP3 and a 200 MB WAV, as a baseline (time and memory, and the ratio).

Usage: python bench/edge_long.py   (after `make web`; uses Debian's chromium; about 3 minutes)
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import Server, ffmpeg, long_talks  # noqa: E402

WEB_MODELS = ROOT / "data" / "models" / "web"
CASES = [  # topic, file
    ("economics", "economics_35s.wav"),
    ("economics", "economics_60s.wav"),
    ("economics", "economics_97s.wav"),
    ("economics", "economics_4min.mp3"),
    ("economics", "economics_1h.mp3"),
    ("economics", "economics_200MB.wav"),
    ("economics", "late_topic_69s.wav"),
    ("economics", "cooking_97s.wav"),
    ("economics", "human_127s.wav"),
    ("", "human_127s.wav"),
]
WHOLE = """async () => {  // the check's decoding before: the whole file, then resampled
  const t0 = performance.now();
  const data = await document.querySelector("#whole").files[0].arrayBuffer();
  const decoded = await new OfflineAudioContext(1, 1, 16000).decodeAudioData(data);
  const offline = new OfflineAudioContext(1, Math.ceil(decoded.duration * 16000), 16000);
  const source = offline.createBufferSource();
  source.buffer = decoded; source.connect(offline.destination); source.start();
  const pcm = (await offline.startRendering()).getChannelData(0);
  return { ms: performance.now() - t0, seconds: pcm.length / 16000 };
}"""


class RendererMemory:
    """Peak resident memory of Chromium's renderer processes while it runs, above the start."""

    def __enter__(self) -> RendererMemory:
        self.start = self.now()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def grew_mb(self) -> float:
        return (self.peak - self.start) / 1e6

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.now())

    @staticmethod
    def now() -> int:
        total = 0
        for p in psutil.process_iter(["name", "cmdline"]):
            try:
                if "--type=renderer" in (p.info["cmdline"] or []):
                    total += p.memory_info().rss
            except psutil.Error:
                pass
        return total


def main() -> None:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="edge-long-"))
    talks = long_talks(tmp)
    talks["economics_200MB.wav"] = tmp / "economics_200MB.wav"  # 44.1 kHz stereo, 19.7 min
    ffmpeg("-stream_loop", "-1", "-i", str(talks["economics_97s.wav"]), "-t", "1180",
           "-ar", "44100", "-ac", "2", str(talks["economics_200MB.wav"]))  # fmt: skip
    server = Server(tmp / "data", env={"AUDIODAS_WEB_MODEL_DIR": str(WEB_MODELS)}).start()
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )  # fmt: skip
            page = browser.new_page()
            page.route("**/api/v1/recordings", lambda route, _: route.abort())  # no uploads
            page.goto(f"{server.url}/#/upload")
            page.select_option("#topic", "economics")  # a first check: model and runtime loaded
            page.set_input_files("#files", str(talks["economics_35s.wav"]))
            wait(page, "economics_35s.wav")
            for topic, name in CASES:
                page.evaluate("document.querySelectorAll('.file-card').forEach((c) => c.remove()); "
                              "document.querySelector('#files').value = ''")  # fmt: skip
                page.select_option("#topic", topic)
                with RendererMemory() as memory:
                    page.set_input_files("#files", str(talks[name]))
                    card = wait(page, name)
                timings = json.loads(card.get_attribute("data-timings"))
                heard = card.get_attribute("data-edge-text") or ""
                verdict = "refused" if card.get_attribute("data-state") == "rejected" else "passed"
                rows.append((topic or "none", name, talks[name].stat().st_size, verdict,
                             len(heard.split()), timings, memory.grew_mb, heard[:70]))  # fmt: skip
            baselines = []
            for name in ("economics_1h.mp3", "economics_200MB.wav"):
                page = browser.new_page()  # a tab of its own: the whole decode may kill it
                page.goto(f"{server.url}/#/upload")
                page.evaluate("document.body.append(Object.assign(document.createElement('input'), "
                              "{ type: 'file', id: 'whole' }))")  # fmt: skip
                page.set_input_files("#whole", str(talks[name]))  # by path, as a user picks it
                with RendererMemory() as memory:
                    try:
                        whole = page.evaluate(WHOLE)
                    except Exception as error:  # noqa: BLE001 (a crashed tab is the finding)
                        whole = {"failed": str(error).splitlines()[0]}
                baselines.append((name, whole, memory.grew_mb))
                page.close()
            browser.close()
    finally:
        server.stop()
    print(
        "| topic | clip | size | verdict | words heard | windows | opening decoded | time to verdict | tab memory | heard (start) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    by_name = {}
    for topic, name, size, verdict, words, t, grew, heard in rows:
        by_name[name] = (t, grew)
        print(f"| {topic} | {name} | {size / 1e6:.1f} MB | {verdict} | {words} | {t.get('windows', 0)} "
              f"| {t['opening_s']:.0f} s in {t['decode_ms'] / 1000:.2f} s | {t['verdict_ms'] / 1000:.1f} s "
              f"| +{grew:.0f} MB | {heard}… |")  # fmt: skip
    print()
    for name, whole, grew in baselines:
        t, now_grew = by_name[name]
        if "failed" in whole:
            print(f"{name}: the whole file decoded failed after +{grew:.0f} MB: {whole['failed']}; "
                  f"the opening now {t['decode_ms'] / 1000:.2f} s, the whole check +{now_grew:.0f} MB")  # fmt: skip
            continue
        print(f"{name}: the whole file decoded ({whole['seconds']:.0f} s) took {whole['ms'] / 1000:.1f} s "
              f"and +{grew:.0f} MB; the opening now {t['decode_ms'] / 1000:.2f} s and the whole "
              f"check +{now_grew:.0f} MB ({whole['ms'] / t['decode_ms']:.0f}x faster to decode)")  # fmt: skip


def wait(page, name: str, timeout: float = 300):  # type: ignore[no-untyped-def]
    card = page.locator(f'.file-card[data-file="{name}"]')
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = card.get_attribute("data-state") if card.count() else None
        if card.count() and card.get_attribute("data-timings"):
            return card  # (its upload is refused next: this bench sends nothing)
        if state == "error":
            raise SystemExit(f"{name}: {card.inner_text()}")
        time.sleep(0.05)
    raise SystemExit(f"{name}: no verdict in {timeout:.0f} s")


if __name__ == "__main__":
    main()
