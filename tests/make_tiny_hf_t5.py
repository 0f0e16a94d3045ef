"""Writes a tiny, randomly initialised Hugging Face T5 checkpoint with a fast tokenizer.
Runs in the model build environment (it has torch and transformers):

    .venv-build/bin/python tests/make_tiny_hf_t5.py OUTPUT "word word ..."
"""

import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

output, words = Path(sys.argv[1]), sys.argv[2].split()
vocab = ["<pad>", "</s>", "<unk>"] + sorted(set(words))
backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
backend.pre_tokenizer = pre_tokenizers.Whitespace()
tokenizer = PreTrainedTokenizerFast(
    tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
)
config = T5Config(
    vocab_size=len(vocab), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2,
    num_heads=4, feed_forward_proj="gated-gelu", decoder_start_token_id=0, pad_token_id=0,
    eos_token_id=1, tie_word_embeddings=False,
)  # fmt: skip
torch.manual_seed(0)
T5ForConditionalGeneration(config).save_pretrained(output)
tokenizer.save_pretrained(output)
print(output)
