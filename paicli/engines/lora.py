"""LoRA files for the DiT transformer, read in the layouts trainers write and merged into
its weights: W += scale * (alpha / rank) * B @ A (and the up bias, where a file has one).

Layouts (safetensors only):
- diffusers / peft: ``[transformer.|base_model.model.]blocks.0.attn1.to_q.lora_A.weight`` and
  ``lora_B``, or ``lora_down`` / ``lora_up``; alpha from a per-layer ``.alpha`` tensor, else
  from the file's metadata (diffusers writes the adapter's ``lora_alpha`` and ``r``, and their
  per-layer patterns, under ``lora_adapter_metadata``), else from peft's ``adapter_config.json``
  beside the file; with none of them alpha = rank (the factor 1).
- original Wan / DiffSynth: ``[diffusion_model.]blocks.0.self_attn.q.lora_A[.default].weight``
  (or ``lora_down``/``lora_up``, ``.alpha``, ``.diff_b`` biases);
- kohya / musubi-tuner: ``lora_unet_blocks_0_self_attn_q.lora_down.weight`` with ``.alpha``.
The last two are renamed with diffusers' own converters, which fold each layer's alpha into
its weights.
"""
from __future__ import annotations

import json
from pathlib import Path

from paicli.engines.checkpoints import modules_of
from paicli.errors import ConfigError, MissingInputError

PREFIXES = ("transformer.", "diffusion_model.", "base_model.model.")
METADATA_KEY = "lora_adapter_metadata"  # diffusers' safetensors metadata entry for the adapter config
ROLES = ((".lora_A.weight", "A"), (".lora_down.weight", "A"), (".lora_B.weight", "B"), (".lora_up.weight", "B"),
         (".lora_B.bias", "bias"), (".alpha", "alpha"))


def read_lora(path: Path) -> tuple[dict, dict]:
    """(tensors renamed to diffusers' layer names, adapter config: ``lora_alpha``, ``r``,
    ``alpha_pattern``, ``rank_pattern`` where the file or peft's config beside it says them)."""
    from safetensors import safe_open

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise ConfigError(f"{path}: LoRA weights must be .safetensors")
    if not path.is_file():
        raise MissingInputError(f"no such LoRA file: {path}")
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:
        raise ConfigError(f"{path}: not a readable safetensors file ({str(e).splitlines()[0]})") from None
    return _diffusers_layout(tensors, path), _adapter_config(metadata, path)


def _diffusers_layout(tensors: dict, path: Path) -> dict:
    """Tensors in diffusers' names (see the module notes), converting the original Wan and the
    kohya/musubi layouts with diffusers' converters."""
    from diffusers.loaders import lora_conversion_utils as conv

    keys = list(tensors)
    try:
        if keys and all(k.startswith("lora_unet_") for k in keys):
            return conv._convert_musubi_wan_lora_to_diffusers(dict(tensors))
        bare = [k[len("diffusion_model."):] if k.startswith("diffusion_model.") else k for k in keys]
        if any(".self_attn." in k or ".cross_attn." in k or k.startswith("head.head.") for k in bare):
            wan = {"diffusion_model." + k.replace(".default.", "."): v for k, v in zip(bare, tensors.values())}
            return conv._convert_non_diffusers_wan_lora_to_diffusers(wan)
    except (KeyError, ValueError, IndexError) as e:
        raise ConfigError(f"{path}: an original-Wan or kohya/musubi LoRA with layers missing or unknown "
                          f"({str(e).splitlines()[0][:120]})") from None
    return tensors


def _adapter_config(metadata: dict, path: Path) -> dict:
    """The adapter's alpha and rank settings from diffusers' metadata or peft's config file."""
    config: dict = {}
    raw = metadata.get(METADATA_KEY)
    if raw:
        try:
            stored = json.loads(raw)
        except ValueError:
            raise ConfigError(f"{path}: its '{METADATA_KEY}' metadata is not JSON") from None
        for key, value in (stored.items() if isinstance(stored, dict) else ()):
            config[key.split(".", 1)[1] if key.startswith("transformer.") else key] = value
    beside = path.parent / "adapter_config.json"  # peft's save_pretrained writes it beside the weights
    if not config and path.name.startswith("adapter_model") and beside.is_file():
        try:
            config = json.loads(beside.read_text())
        except (OSError, ValueError):
            raise ConfigError(f"{beside}: not a readable peft adapter config") from None
    return config if isinstance(config, dict) else {}


def _pattern(patterns, name: str):
    """The value of peft's per-layer pattern (``alpha_pattern`` / ``rank_pattern``) for the
    layer ``name`` (its name or a dotted suffix of it), or None."""
    for key, value in (patterns or {}).items():
        if name == key or name.endswith("." + key):
            return value
    return None


def apply_lora(module, path: Path, scale: float = 1.0) -> int:
    """Merge the LoRA file ``path`` (any layout of the module notes) into ``module``'s weights:
    W += scale * (alpha / rank) * B @ A. Returns how many layers it changed."""
    import torch

    tensors, config = read_lora(Path(path))
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name = key
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        for tag, role in ROLES:
            if name.endswith(tag):
                pairs.setdefault(name[:-len(tag)], {})[role] = value
                break
    if not pairs:
        raise ConfigError(f"{path}: no LoRA layers in it (lora_A/lora_B or lora_down/lora_up weights)")
    params = dict(module.named_parameters())
    unknown = [n for n in pairs if f"{n}.weight" not in params]
    if unknown:
        raise ConfigError(f"{path}: LoRA for layers the model does not have: {modules_of(unknown)}")
    incomplete = [n for n, p in pairs.items() if "A" not in p or "B" not in p]
    if incomplete:
        raise ConfigError(f"{path}: LoRA layers without both down and up weights: {modules_of(incomplete)}")
    with torch.no_grad():
        for name, p in pairs.items():
            weight = params[f"{name}.weight"]
            a, b = p["A"].float(), p["B"].float()
            if (b.shape[0], a.shape[1]) != tuple(weight.shape) or b.shape[1] != a.shape[0]:
                raise ConfigError(f"{path}: LoRA for {name} makes {(b.shape[0], a.shape[1])}, the layer is "
                                  f"{tuple(weight.shape)}")
            factor = scale * _alpha_over_rank(p, config, name, a.shape[0])
            weight.add_((factor * (b @ a)).to(weight.dtype))
            if "bias" in p:
                bias = params.get(f"{name}.bias")
                if bias is None or tuple(p["bias"].shape) != tuple(bias.shape):
                    raise ConfigError(f"{path}: LoRA bias for {name} does not fit the layer")
                bias.add_((scale * p["bias"].float()).to(bias.dtype))
    return len(pairs)


def _alpha_over_rank(layer: dict, config: dict, name: str, rank: int) -> float:
    """alpha / rank for one layer: its ``.alpha`` tensor, else the adapter config's (its
    per-layer pattern first; alpha / sqrt(rank) for a rank-stabilised adapter), else 1."""
    if "alpha" in layer:
        return float(layer["alpha"]) / rank
    alpha = _pattern(config.get("alpha_pattern"), name)
    if alpha is None:
        alpha = config.get("lora_alpha")
    if alpha is None:
        return 1.0
    return float(alpha) / (rank ** 0.5 if config.get("use_rslora") else rank)
