#!/usr/bin/python3
"""Write a tiny LLaMA-architecture GGUF with random weights, for tests.

It cannot say anything sensible, but llama-server loads it in a fraction of a second and serves
every endpoint with it, so the supervisor can be tested against a real server without downloading
weights. The tokenizer comes from the vocab-only GGUF in the llama.cpp source tree.

Run with PYTHONPATH=<llama.cpp>/gguf-py and a python that has numpy (Debian: /usr/bin/python3).
The output is byte-identical for the same seed and llama.cpp source.
"""
import argparse
import os
from pathlib import Path

import numpy as np
import gguf

N_LAYER = 2
N_EMBD = 64
N_HEAD = 4
N_FF = 128
# Long enough that tests can hold a stream open for seconds (a few thousand tokens).
N_CTX = 4096

# ChatML, so /v1/chat/completions has a template to apply (the vocab file carries none).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def copy_tokenizer(vocab_path: Path, writer: gguf.GGUFWriter) -> int:
    """Copy every tokenizer.ggml.* key from the vocab file; return the vocabulary size."""
    reader = gguf.GGUFReader(vocab_path)
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.ggml."):
            continue
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), field.types[0], sub_type)
    return len(reader.fields["tokenizer.ggml.tokens"].data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llama-src", required=True, type=Path, help="llama.cpp source directory")
    parser.add_argument("--out", required=True, type=Path, help="GGUF file to write")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    # Write next to the target and rename, so an interrupted run never leaves a half file behind.
    tmp_path = args.out.with_name(args.out.name + ".tmp")
    writer = gguf.GGUFWriter(tmp_path, "llama")
    writer.add_name("gradatum-tiny")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    n_vocab = copy_tokenizer(args.llama_src / "models" / "ggml-vocab-llama-spm.gguf", writer)
    writer.add_vocab_size(n_vocab)
    writer.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.default_rng(args.seed)

    # Small weights keep activations and logits finite; numpy shapes are ggml's dims reversed.
    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float16)

    def norm() -> np.ndarray:
        return np.ones(N_EMBD, dtype=np.float32)

    # No output.weight: llama.cpp then reuses token_embd (tied embeddings), halving the file size.
    writer.add_tensor("token_embd.weight", weight(n_vocab, N_EMBD))
    writer.add_tensor("output_norm.weight", norm())
    for i in range(N_LAYER):
        blk = f"blk.{i}"
        writer.add_tensor(f"{blk}.attn_norm.weight", norm())
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{blk}.{name}.weight", weight(N_EMBD, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_norm.weight", norm())
        writer.add_tensor(f"{blk}.ffn_gate.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_up.weight", weight(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_down.weight", weight(N_EMBD, N_FF))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp_path, args.out)


if __name__ == "__main__":
    main()
