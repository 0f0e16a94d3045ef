"""A tiny, randomly initialised T5 in CTranslate2 format, built without torch through
`ctranslate2.specs`, with a word-level `tokenizer.json`: enough to run the real loading and
decoding code of the T5 summarizer."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from ctranslate2.specs import common_spec, transformer_spec
from tokenizers import Tokenizer, models, pre_tokenizers

SPECIAL = ["<pad>", "</s>", "<unk>"]


def build_tiny_t5(
    target: Path, words: list[str], d_model: int = 32, d_ff: int = 64, heads: int = 4
) -> Path:
    vocab = SPECIAL + sorted(set(words) - set(SPECIAL))
    spec = transformer_spec.TransformerSpec.from_config(
        (2, 2),
        heads,
        pre_norm=True,
        activation=common_spec.Activation.GELUTanh,
        ffn_glu=True,
        relative_attention_bias=True,
        rms_norm=True,
    )
    rng = np.random.default_rng(0)
    shapes = {
        "embeddings": (len(vocab), d_model),
        "projection": (len(vocab), d_model),
        "gamma": (d_model,),
        "relative_attention_bias": (32, heads),
    }

    def fill(owner, name, value):  # type: ignore[no-untyped-def]
        if value is not None:
            return
        leaf = name.split("/")[-1]
        parent = "/".join(name.split("/")[:-1])
        if leaf == "relative_attention_max_distance":
            array = np.array(128, dtype=np.int32)
        elif leaf == "gamma":
            array = np.ones(shapes["gamma"], dtype=np.float32)
        elif leaf == "relative_attention_bias":
            array = rng.normal(0, 0.1, shapes["relative_attention_bias"]).astype(np.float32)
        elif leaf == "weight":
            array = rng.normal(0, 0.2, _linear_shape(parent, len(vocab), d_model, d_ff)).astype(
                np.float32
            )
        else:
            raise ValueError(f"unexpected variable {name}")
        setattr(owner, leaf, array)

    spec._visit(fill)
    spec.decoder.scale_outputs = d_model**-0.5
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.config.bos_token = "<pad>"
    spec.config.eos_token = "</s>"
    spec.config.unk_token = "<unk>"
    spec.config.decoder_start_token = "<pad>"
    target.mkdir(parents=True, exist_ok=True)
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(target))

    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens(SPECIAL)
    tokenizer.save(str(target / "tokenizer.json"))
    return target


def _linear_shape(parent: str, vocab: int, d: int, d_ff: int) -> tuple[int, int]:
    if (
        parent.endswith("embeddings")
        or parent.endswith("embeddings_0")
        or parent.endswith("projection")
    ):
        return (vocab, d)
    if re.search(r"self_attention/linear_0$", parent):
        return (3 * d, d)
    if re.search(r"(?<!self_)attention/linear_1$", parent):
        return (2 * d, d)
    if re.search(r"ffn/linear_0(_noact)?$", parent):
        return (d_ff, d)
    if parent.endswith("ffn/linear_1"):
        return (d, d_ff)
    return (d, d)
