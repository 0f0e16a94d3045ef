"""Summaries with a T5-family sequence-to-sequence model in CTranslate2 format (meant for
Google Flan-T5-small), found by path: `model.bin` + `shared_vocabulary.*` from CTranslate2's
converter, and the checkpoint's `tokenizer.json` beside them (`audiodas models import-t5`)."""

from __future__ import annotations

import threading
from pathlib import Path

from audiodas.inference.models.summarizers import SUMMARY_LIMIT, ExtractiveSummarizer, fit

PROMPT = "summarize: "
MAX_INPUT_TOKENS = 512  # T5's trained input length
EOS = "</s>"


class T5Summarizer:
    name = "t5"

    def __init__(
        self,
        model_dir: Path,
        *,
        compute_type: str = "int8",
        threads: int = 1,
        max_output_tokens: int = 24,
    ) -> None:
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "model.bin").exists():
            raise FileNotFoundError(f"no CTranslate2 model.bin in {self.model_dir}")
        if not (self.model_dir / "tokenizer.json").exists():
            raise FileNotFoundError(f"no tokenizer.json in {self.model_dir}")
        self.compute_type = compute_type
        self.threads = threads
        self.max_output_tokens = max_output_tokens
        self._fallback = ExtractiveSummarizer()
        self._translator = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._translator is None:
                import ctranslate2
                from tokenizers import Tokenizer

                self._tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                self._translator = ctranslate2.Translator(
                    str(self.model_dir),
                    device="cpu",
                    compute_type=self.compute_type,
                    intra_threads=self.threads,
                )

    def summarize(self, transcript: str) -> str | None:
        if not transcript.strip():
            return None
        self.load()
        text = transcript
        # Long transcripts: summarize each window that fits the model, then the summaries.
        for _ in range(4):
            windows = self._windows(text)
            outputs = [self._generate(w) for w in windows]
            text = " ".join(o for o in outputs if o)
            if len(windows) == 1:
                break
        summary = fit(text, SUMMARY_LIMIT)
        # A model that says nothing usable still leaves a summary of the transcript itself.
        return summary or self._fallback.summarize(transcript)

    def _windows(self, text: str) -> list[list[str]]:
        prompt = self._tokenizer.encode(PROMPT, add_special_tokens=False).tokens
        body = self._tokenizer.encode(text, add_special_tokens=False).tokens
        room = MAX_INPUT_TOKENS - len(prompt) - 1
        return [prompt + body[i : i + room] + [EOS] for i in range(0, max(len(body), 1), room)]

    def _generate(self, tokens: list[str]) -> str:
        result = self._translator.translate_batch(
            [tokens],
            beam_size=2,
            max_decoding_length=self.max_output_tokens,
            repetition_penalty=1.2,
        )[0]
        ids = [self._tokenizer.token_to_id(t) for t in result.hypotheses[0]]
        return self._tokenizer.decode(
            [i for i in ids if i is not None], skip_special_tokens=True
        ).strip()
