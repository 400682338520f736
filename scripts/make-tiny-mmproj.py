#!/usr/bin/python3
"""Write a tiny random-weight vision projector GGUF (LLaVA-style, projector type "mlp") for tests.

It matches a text model's embedding width (read from that model's GGUF), so llama-server accepts
`-m TEXT --mmproj OUT` and answers chat requests with image_url parts: a 2-block CLIP-style
vision tower on 32x32 images in 8x8 patches (16 image tokens) and a 2-layer MLP projector. It
sees nothing, but it runs the whole multimodal path (decode, resize, encode, project, decode).
Tensor names and keys: tools/mtmd/clip-impl.h and clip.cpp (load_hparams, load_tensors,
PROJECTOR_TYPE_MLP) of the llama.cpp release; the graph is tools/mtmd/models/llava.cpp.

Run with PYTHONPATH=<llama.cpp>/gguf-py and a python that has numpy (Debian: /usr/bin/python3).
The output is byte-identical for the same seed and text model.
"""
import argparse
import os
from pathlib import Path

import numpy as np
import gguf

N_LAYER = 2  # llava taps the second-to-last block: one of the two runs
N_EMBD = 32
N_HEAD = 2
N_FF = 64
IMAGE_SIZE = 32
PATCH_SIZE = 8
N_PATCHES = (IMAGE_SIZE // PATCH_SIZE) ** 2


def text_embedding_width(text_model: Path) -> int:
    """The text model's `<arch>.embedding_length`: the projector's output width must equal it."""
    reader = gguf.GGUFReader(text_model)
    arch = reader.fields["general.architecture"].contents()
    return int(reader.fields[f"{arch}.embedding_length"].contents())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-model", required=True, type=Path, help="the tiny text model GGUF")
    parser.add_argument("--out", required=True, type=Path, help="GGUF file to write")
    parser.add_argument("--seed", type=int, default=4321)
    args = parser.parse_args()
    n_embd_text = text_embedding_width(args.text_model)

    # Write next to the target and rename, so an interrupted run never leaves a half file behind.
    tmp_path = args.out.with_name(args.out.name + ".tmp")
    writer = gguf.GGUFWriter(tmp_path, "clip")
    writer.add_name("gradatum-tiny-mmproj")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "mlp")
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    writer.add_uint32("clip.vision.embedding_length", N_EMBD)
    writer.add_uint32("clip.vision.feed_forward_length", N_FF)
    writer.add_uint32("clip.vision.block_count", N_LAYER)
    writer.add_uint32("clip.vision.projection_dim", n_embd_text)
    writer.add_uint32("clip.vision.attention.head_count", N_HEAD)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])

    rng = np.random.default_rng(args.seed)

    # Small weights keep activations finite; numpy shapes are ggml's dims reversed. Matrices in
    # F16 (what the converters write), vectors in F32 (what ggml's add and norm expect).
    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    def bias(n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.float32)

    def ones(n: int) -> np.ndarray:
        return np.ones(n, dtype=np.float32)

    # The patch embedding is a conv kernel: ggml [patch, patch, 3, n_embd].
    writer.add_tensor("v.patch_embd.weight", weight(N_EMBD, 3, PATCH_SIZE, PATCH_SIZE))
    writer.add_tensor("v.patch_embd.bias", bias(N_EMBD))
    writer.add_tensor(
        "v.position_embd.weight",
        (rng.standard_normal((N_PATCHES, N_EMBD), dtype=np.float32) * 0.02),
    )
    writer.add_tensor("v.pre_ln.weight", ones(N_EMBD))
    writer.add_tensor("v.pre_ln.bias", bias(N_EMBD))
    for i in range(N_LAYER):
        blk = f"v.blk.{i}"
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            writer.add_tensor(f"{blk}.{name}.weight", weight(N_EMBD, N_EMBD))
            writer.add_tensor(f"{blk}.{name}.bias", bias(N_EMBD))
        for name in ("ln1", "ln2"):
            writer.add_tensor(f"{blk}.{name}.weight", ones(N_EMBD))
            writer.add_tensor(f"{blk}.{name}.bias", bias(N_EMBD))
        writer.add_tensor(f"{blk}.ffn_up.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_up.bias", bias(N_FF))
        writer.add_tensor(f"{blk}.ffn_down.weight", weight(N_EMBD, N_FF))
        writer.add_tensor(f"{blk}.ffn_down.bias", bias(N_EMBD))
    # The projector: vision width -> text width, GELU, text width -> text width.
    writer.add_tensor("mm.0.weight", weight(n_embd_text, N_EMBD))
    writer.add_tensor("mm.0.bias", bias(n_embd_text))
    writer.add_tensor("mm.2.weight", weight(n_embd_text, n_embd_text))
    writer.add_tensor("mm.2.bias", bias(n_embd_text))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp_path, args.out)


if __name__ == "__main__":
    main()
