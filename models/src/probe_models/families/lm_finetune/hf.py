"""Local Hugging Face causal LMs (the optional ``hf`` extra): checked, loaded and tokenized without a network.

Only directories on the server are read, weights only from safetensors
files (nothing is unpickled), and never with remote code.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
from torch import nn

from probe_models.errors import ConfigError, UnsupportedProbe
from probe_models.families.lm_finetune.language import LABELS


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise UnsupportedProbe(
            "model=hf needs the transformers package on the server: pip install 'probe-models[hf]'"
        ) from None
    return transformers


@functools.lru_cache(maxsize=8)
def _tokenizer(path: str) -> Any:
    return _transformers().AutoTokenizer.from_pretrained(path, local_files_only=True)


def check_hf_directory(path: str) -> None:
    """Refuse, with the reason, a path that is not a local causal LM this family can prompt."""
    if not path:
        raise ConfigError("hf_path", "model=hf needs hf_path, a local Hugging Face model directory")
    directory = Path(path)
    if not directory.is_dir():
        raise ConfigError("hf_path", f"{path} is not a directory on the server")
    if not (directory / "config.json").is_file():
        raise ConfigError("hf_path", f"{path} has no config.json: not a Hugging Face model directory")
    transformers = _transformers()
    try:
        config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError("hf_path", f"{path}/config.json is not a Hugging Face config: {error}") from None
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
        raise ConfigError("hf_path", f"{path} holds a {config.model_type!r} model, which is not a causal LM")
    if not any(directory.glob("*.safetensors")):
        raise ConfigError("hf_path", f"{path} has no .safetensors weights (probe never loads pickled weights)")
    try:
        tokenizer = _tokenizer(path)
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError("hf_path", f"{path} has no usable tokenizer: {error}") from None
    for word in LABELS:
        pieces = tokenizer.encode(" " + word, add_special_tokens=False)
        if len(pieces) != 1:
            raise ConfigError("hf_path", f"the label word {word!r} is {len(pieces)} tokens for this tokenizer, not 1")


class HFCausalLM(nn.Module):
    """A Hugging Face causal LM behind the GPT's interface: token ids in, next-token logits out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids).logits


def load_hf_model(path: str) -> HFCausalLM:
    model = _transformers().AutoModelForCausalLM.from_pretrained(path, local_files_only=True, use_safetensors=True)
    return HFCausalLM(model.float())


def hf_parameter_count(path: str) -> int:
    transformers = _transformers()
    config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


class HFEncoder:
    """Words to the model's own token ids: the words are joined by spaces and tokenized."""

    def __init__(self, path: str) -> None:
        self.tokenizer = _tokenizer(path)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        self.label_ids = tuple(self.tokenizer.encode(" " + w, add_special_tokens=False)[0] for w in LABELS)

    def encode(self, words: tuple[str, ...]) -> list[int]:
        return self.tokenizer.encode(" ".join(words), add_special_tokens=False)
