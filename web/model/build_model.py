"""Build the browser model: the bundled CTranslate2 Whisper tiny.en, turned back into
transformers.js's ONNX layout. Runs in the build environment (web/build-requirements.txt),
called by `audiodas models build-web` (not imported by the product).

    python build_model.py CT2_MODEL_DIR OUTPUT_DIR

1. read CTranslate2's model.bin (binary version 6, WhisperSpec);
2. invert CTranslate2's WhisperLoader onto transformers' WhisperForConditionalGeneration
   (strict load_state_dict: every weight accounted for);
3. export to ONNX with optimum (encoder + merged decoder with past);
4. quantize the MatMuls per channel to int8, and the decoder's shared token embedding per
   token (transformers.js's all-ops q8 recipe changed words; this keeps them: bench/edge.py),
   and write the config files transformers.js reads. The fp32 files stay beside them for
   bench/edge.py; the app downloads the int8 ones.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

# What a browser downloads (the fp32 files stay beside them for bench/edge.py).
SERVED = (
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "onnx/encoder_model_int8.onnx",
    "onnx/decoder_model_merged_int8.onnx",
)
DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16)  # CTranslate2 DataType order


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    offset = 0

    def take(fmt: str):  # type: ignore[no-untyped-def]
        nonlocal offset
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    def string() -> str:
        nonlocal offset
        length = take("H")
        text = data[offset : offset + length - 1].decode()
        offset += length
        return text

    version = take("I")
    if version != 6:
        raise ValueError(f"CTranslate2 binary version {version}; this reader knows 6")
    string()  # spec name
    take("I")  # revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        shape = [take("I") for _ in range(rank)]
        dtype = DTYPES[take("B")]
        size = take("I")
        array = np.frombuffer(
            data, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset
        )
        offset += size
        variables[name] = array.reshape(shape).astype(np.float32)
    for _ in range(take("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return variables


def to_state_dict(ct2: dict[str, np.ndarray], layers: int, d: int) -> dict:
    import torch

    sd: dict[str, torch.Tensor] = {}

    def put(name: str, array: np.ndarray) -> None:
        sd[name] = torch.from_numpy(np.ascontiguousarray(array))

    def linear(ct: str, hf: str, bias: bool = True) -> None:
        put(f"{hf}.weight", ct2[f"{ct}/weight"])
        if bias:
            put(f"{hf}.bias", ct2[f"{ct}/bias"])

    def norm(ct: str, hf: str) -> None:
        put(f"{hf}.weight", ct2[f"{ct}/gamma"])
        put(f"{hf}.bias", ct2[f"{ct}/beta"])

    for side in ("encoder", "decoder"):
        put(f"model.{side}.embed_positions.weight", ct2[f"{side}/position_encodings/encodings"])
        norm(f"{side}/layer_norm", f"model.{side}.layer_norm")
        for i in range(layers):
            ct, hf = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
            qkv_w, qkv_b = (
                ct2[f"{ct}/self_attention/linear_0/weight"],
                ct2[f"{ct}/self_attention/linear_0/bias"],
            )
            for k, proj in enumerate(("q_proj", "k_proj", "v_proj")):
                put(f"{hf}.self_attn.{proj}.weight", qkv_w[k * d : (k + 1) * d])
                if (
                    proj != "k_proj"
                ):  # Whisper's key projection has no bias (CTranslate2 stores zeros)
                    put(f"{hf}.self_attn.{proj}.bias", qkv_b[k * d : (k + 1) * d])
            linear(f"{ct}/self_attention/linear_1", f"{hf}.self_attn.out_proj")
            norm(f"{ct}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm")
            if side == "decoder":
                linear(f"{ct}/attention/linear_0", f"{hf}.encoder_attn.q_proj")
                kv_w, kv_b = (
                    ct2[f"{ct}/attention/linear_1/weight"],
                    ct2[f"{ct}/attention/linear_1/bias"],
                )
                put(f"{hf}.encoder_attn.k_proj.weight", kv_w[:d])
                put(f"{hf}.encoder_attn.v_proj.weight", kv_w[d:])
                put(f"{hf}.encoder_attn.v_proj.bias", kv_b[d:])
                linear(f"{ct}/attention/linear_2", f"{hf}.encoder_attn.out_proj")
                norm(f"{ct}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm")
            linear(f"{ct}/ffn/linear_0", f"{hf}.fc1")
            linear(f"{ct}/ffn/linear_1", f"{hf}.fc2")
            norm(f"{ct}/ffn/layer_norm", f"{hf}.final_layer_norm")
    for k in (1, 2):
        linear(f"encoder/conv{k}", f"model.encoder.conv{k}")
    put("model.decoder.embed_tokens.weight", ct2["decoder/embeddings/weight"])
    put("proj_out.weight", ct2["decoder/embeddings/weight"])
    return sd


def build(ct2_dir: Path, output: Path) -> None:
    import torch
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    ct2_config = json.loads((ct2_dir / "config.json").read_text())
    ct2 = read_ct2(ct2_dir / "model.bin")
    d = ct2["encoder/layer_norm/gamma"].shape[0]
    layers = sum(
        1 for k in ct2 if k.startswith("encoder/layer_") and k.endswith("ffn/layer_norm/gamma")
    )
    vocab = ct2["decoder/embeddings/weight"].shape[0]
    config = WhisperConfig(
        vocab_size=vocab,
        num_mel_bins=ct2["encoder/conv1/weight"].shape[1],
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=d // 64,
        decoder_attention_heads=d // 64,
        d_model=d,
        encoder_ffn_dim=ct2["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=ct2["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=ct2["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=ct2["decoder/position_encodings/encodings"].shape[0],
        scale_embedding=False,
        decoder_start_token_id=50257,
        bos_token_id=50257,
        eos_token_id=50256,
        pad_token_id=50256,
        begin_suppress_tokens=ct2_config["suppress_ids_begin"],
        suppress_tokens=ct2_config["suppress_ids"],
        tie_word_embeddings=True,
    )
    model = WhisperForConditionalGeneration(config)
    model.load_state_dict(to_state_dict(ct2, layers, d), strict=True)
    model.eval()

    generation = {
        "alignment_heads": ct2_config["alignment_heads"],
        "begin_suppress_tokens": ct2_config["suppress_ids_begin"],
        "suppress_tokens": ct2_config["suppress_ids"],
        "bos_token_id": 50257,
        "decoder_start_token_id": 50257,
        "eos_token_id": 50256,
        "pad_token_id": 50256,
        "is_multilingual": False,
        "max_initial_timestamp_index": 50,
        "max_length": 448,
        "no_timestamps_token_id": 50362,
        "prev_sot_token_id": 50360,
        "return_timestamps": False,
    }
    with tempfile.TemporaryDirectory() as tmp:
        hf_dir, onnx_dir = Path(tmp) / "hf", Path(tmp) / "onnx"
        model.save_pretrained(hf_dir)
        (hf_dir / "generation_config.json").write_text(json.dumps(generation, indent=2))
        shutil.copy(ct2_dir / "tokenizer.json", hf_dir / "tokenizer.json")
        write_side_files(hf_dir)
        from optimum.exporters.onnx import main_export

        main_export(
            str(hf_dir),
            output=str(onnx_dir),
            task="automatic-speech-recognition-with-past",
            device="cpu",
        )
        output.mkdir(parents=True, exist_ok=True)
        (output / "onnx").mkdir(exist_ok=True)
        for name in ("encoder_model.onnx", "decoder_model_merged.onnx"):
            shutil.copy(onnx_dir / name, output / "onnx" / name)
        quantize_matmuls(
            onnx_dir / "encoder_model.onnx", output / "onnx" / "encoder_model_int8.onnx"
        )
        quantize_decoder(
            onnx_dir / "decoder_model_merged.onnx",
            output / "onnx" / "decoder_model_merged_int8.onnx",
        )
        for name in (
            "config.json",
            "generation_config.json",
            "preprocessor_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
        ):
            shutil.copy(hf_dir / name, output / name)
    write_manifest(output)
    del torch


def quantize_matmuls(source: Path, target: Path) -> None:
    """Every MatMul with a weight tensor, in int8 per channel (in the merged decoder's If
    branches too: EnableSubgraph)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        extra_options={"EnableSubgraph": True},
    )


def write_manifest(folder: Path) -> dict:
    """manifest.json: `{"build": <hash of the files' hashes>, "bytes": <download size>,
    "files": {<path>: {"sha256", "bytes"}}}`, what a browser downloads, checks and keeps (under
    the build's name: a rebuilt model replaces what a browser kept)."""
    files = {}
    for name in SERVED:
        digest = hashlib.sha256()
        with (folder / name).open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        files[name] = {"sha256": digest.hexdigest(), "bytes": (folder / name).stat().st_size}
    manifest = {
        "build": hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16],
        "bytes": sum(f["bytes"] for f in files.values()),
        "files": files,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


EMBEDDING = "model.decoder.embed_tokens.weight_merged_0"


def quantize_decoder(source: Path, target: Path) -> None:
    """The merged decoder in int8, about a quarter of its fp32 size.

    1. onnxruntime quantizes the layers' MatMuls per channel (inside both branches of the
       merged decoder's If: EnableSubgraph).
    2. The token embedding (80 % of the weights) is shared by the input lookup (Gather) and the
       output projection (Transpose then MatMul), which onnxruntime cannot quantize as one
       tensor. It is stored once as int8 [d_model, vocab] with one scale per token (symmetric):
       the lookup gathers columns and scales them; the projection is a MatMulInteger against
       it, scaled per token: per channel, as for the other MatMuls.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    with tempfile.TemporaryDirectory() as tmp:
        layers = Path(tmp) / "layers.onnx"
        quantize_matmuls(source, layers)
        model = onnx.load(str(layers))
    graph = model.graph
    weight = next(t for t in graph.initializer if t.name == EMBEDDING)
    table = numpy_helper.to_array(weight).astype(np.float32)  # [vocab, d_model]
    scale = np.maximum(np.abs(table).max(axis=1), 1e-8) / 127.0
    quantized = np.clip(np.round(table / scale[:, None]), -127, 127).astype(np.int8)
    graph.initializer.remove(weight)
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.ascontiguousarray(quantized.T), "embed_q8_t"),
            numpy_helper.from_array(scale.astype(np.float32), "embed_scale"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "embed_last_axis"),
        ]
    )

    def rewrite(branch: onnx.GraphProto) -> None:
        nodes = list(branch.node)
        transposed = None
        for node in nodes:
            if node.op_type == "Transpose" and list(node.input) == [EMBEDDING]:
                transposed = node.output[0]
        out: list[onnx.NodeProto] = []
        for node in nodes:
            if node.op_type == "Gather" and node.input[0] == EMBEDDING:
                ids, result, p = node.input[1], node.output[0], node.name
                out += [
                    helper.make_node("Gather", ["embed_q8_t", ids], [p + "/q"], axis=1),
                    helper.make_node("Cast", [p + "/q"], [p + "/f"], to=TensorProto.FLOAT),
                    helper.make_node("Transpose", [p + "/f"], [p + "/t"], perm=[1, 2, 0]),
                    helper.make_node("Gather", ["embed_scale", ids], [p + "/s"], axis=0),
                    helper.make_node("Unsqueeze", [p + "/s", "embed_last_axis"], [p + "/s1"]),
                    helper.make_node("Mul", [p + "/t", p + "/s1"], [result]),
                ]
            elif node.op_type == "Transpose" and list(node.input) == [EMBEDDING]:
                continue
            elif node.op_type == "MatMul" and transposed in node.input:
                hidden, result, p = node.input[0], node.output[0], node.name
                out += [
                    helper.make_node(
                        "DynamicQuantizeLinear", [hidden], [p + "/hq", p + "/hs", p + "/hz"]
                    ),  # fmt: skip
                    helper.make_node(
                        "MatMulInteger", [p + "/hq", "embed_q8_t", p + "/hz"], [p + "/i"]
                    ),  # fmt: skip
                    helper.make_node("Cast", [p + "/i"], [p + "/f"], to=TensorProto.FLOAT),
                    helper.make_node("Mul", [p + "/hs", "embed_scale"], [p + "/scale"]),
                    helper.make_node("Mul", [p + "/f", p + "/scale"], [result]),
                ]
            else:
                out.append(node)
        del branch.node[:]
        branch.node.extend(out)

    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                rewrite(attribute.g)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def write_side_files(hf_dir: Path) -> None:
    (hf_dir / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "chunk_length": 30,
                "feature_extractor_type": "WhisperFeatureExtractor",
                "feature_size": 80,
                "hop_length": 160,
                "n_fft": 400,
                "n_samples": 480000,
                "nb_max_frames": 3000,
                "padding_side": "right",
                "padding_value": 0.0,
                "processor_class": "WhisperProcessor",
                "return_attention_mask": False,
                "sampling_rate": 16000,
            },
            indent=2,
        )
    )
    (hf_dir / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "WhisperTokenizer",
                "model_max_length": 1024,
                "bos_token": "<|endoftext|>",
                "eos_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>",
                "add_prefix_space": False,
                "errors": "replace",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"built {sys.argv[2]}")
