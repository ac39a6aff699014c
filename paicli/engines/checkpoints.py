"""DiT checkpoints on disk: write a tiny random one, describe one, load one (safetensors only).

The layout is a diffusers pipeline folder, the format real Wan weights come in::

    DIR/model_index.json
    DIR/transformer/config.json + *.safetensors (one file, or shards with an index)
    DIR/vae/config.json + *.safetensors
    DIR/scheduler/scheduler_config.json
    DIR/text_encoder/config.json + *.safetensors, DIR/tokenizer/   (UMT5, transformers' layout)
    DIR/prompt_embeds.safetensors      (optional: precomputed text embeddings, key "prompt_embeds")
    DIR/lora/*.safetensors             (optional LoRA weights)

The transformer may also be one ``.safetensors`` file in the original Wan layout (renamed on
load) with the configs taken from a local folder. Weights are read with ``safetensors`` into
modules built from their ``config.json`` (parameters allocated only when their tensors are
read, after names and shapes were checked against the files' headers); a
file that would need unpickling (``.bin``, ``.pt``, ``.ckpt``) is refused, and nothing is
ever fetched from a hub. Missing, unexpected or mis-shaped tensors are reported in one line
naming the modules they belong to.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from paicli import __version__
from paicli.errors import ConfigError, EngineUnavailableError, MissingInputError, OutputError
from paicli.media.atomic import atomic_output, write_text

COMPONENTS = {"transformer": "WanTransformer3DModel", "vae": "AutoencoderKLWan"}
CLASSES = {**COMPONENTS, "transformer_2": "WanTransformer3DModel"}  # transformer_2: a two-expert Wan 2.2
TEXT_ENCODER = "UMT5EncoderModel"  # optional component: text_encoder/ (transformers) + tokenizer/
PICKLED = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
MAX_TEXT_TOKENS = 512  # Wan's text length

TINY = {
    "transformer": dict(patch_size=[1, 2, 2], num_attention_heads=2, attention_head_dim=12, in_channels=4,
                        out_channels=4, text_dim=16, freq_dim=16, ffn_dim=32, num_layers=2, rope_max_seq_len=256),
    "vae": dict(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1, latents_mean=[0.0] * 4,
                latents_std=[1.0] * 4),
    "text_encoder": dict(d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2, relative_attention_num_buckets=8,
                         feed_forward_proj="gated-gelu"),
}


def _classes():
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    return {"WanTransformer3DModel": WanTransformer3DModel, "AutoencoderKLWan": AutoencoderKLWan}


def _transformers():
    try:
        import transformers
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise EngineUnavailableError("the text encoder needs the 'transformers' package (pip install "
                                     "transformers), or give precomputed --prompt-embeds") from None
    return transformers


def _write_safetensors(tensors: dict, path: Path) -> None:
    from safetensors.torch import save_file

    with atomic_output(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata={"format": "pt"})


def _write_json(data: dict, path: Path) -> None:
    write_text(path, json.dumps(data, indent=1) + "\n")


def init_tiny(folder: Path, seed: int = 0) -> list[Path]:
    """Write a tiny random checkpoint (transformer, VAE, scheduler, prompt embeddings) into
    ``folder`` in the on-disk format real weights use; returns the files written."""
    import torch
    from diffusers import UniPCMultistepScheduler

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create {folder}: {e.strerror or e}") from None
    torch.manual_seed(seed)
    written = []
    classes = _classes()
    for name, cls_name in COMPONENTS.items():
        module = classes[cls_name](**TINY[name])
        (folder / name).mkdir(exist_ok=True)
        config = {"_class_name": cls_name, "_diffusers_version": _diffusers_version(),
                  **{k: v for k, v in module.config.items() if not k.startswith("_")}}
        _write_json(config, folder / name / "config.json")
        _write_safetensors(module.state_dict(), folder / name / "diffusion_pytorch_model.safetensors")
        written += [folder / name / "config.json", folder / name / "diffusion_pytorch_model.safetensors"]
    written += _tiny_text_encoder(folder)
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    (folder / "scheduler").mkdir(exist_ok=True)
    _write_json({"_class_name": "UniPCMultistepScheduler", **dict(scheduler.config)},
                folder / "scheduler" / "scheduler_config.json")
    _write_json({"_class_name": "PaicliWanInContext", "_diffusers_version": _diffusers_version(),
                 "paicli_version": __version__, "tiny": True,
                 "transformer": ["diffusers", "WanTransformer3DModel"], "vae": ["diffusers", "AutoencoderKLWan"],
                 "text_encoder": ["transformers", TEXT_ENCODER], "tokenizer": ["transformers", "AutoTokenizer"],
                 "scheduler": ["diffusers", "UniPCMultistepScheduler"]}, folder / "model_index.json")
    written += [folder / "scheduler" / "scheduler_config.json", folder / "model_index.json"]
    return written


def _tiny_text_encoder(folder: Path) -> list[Path]:
    """A tiny UMT5 encoder (text_encoder/) and a byte-level tokenizer (tokenizer/: every byte a
    token, end-of-sequence appended), in the files real Wan folders carry."""
    from tokenizers import Tokenizer, decoders, models, processors
    from tokenizers.pre_tokenizers import ByteLevel

    tf = _transformers()
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for ch in sorted(ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    for sub in ("tokenizer", "text_encoder"):
        (folder / sub).mkdir(exist_ok=True)
    _write_json(json.loads(tok.to_str()), folder / "tokenizer" / "tokenizer.json")
    _write_json({"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "<pad>", "eos_token": "</s>",
                 "unk_token": "<unk>", "model_max_length": MAX_TEXT_TOKENS}, folder / "tokenizer" / "tokenizer_config.json")
    encoder = tf.UMT5EncoderModel(tf.UMT5Config(vocab_size=len(vocab), **TINY["text_encoder"]))
    config = {**encoder.config.to_dict(), "architectures": [TEXT_ENCODER]}
    _write_json(config, folder / "text_encoder" / "config.json")
    state = {k: v for k, v in encoder.state_dict().items() if k not in _tied(encoder)}
    _write_safetensors(state, folder / "text_encoder" / "model.safetensors")
    return [folder / "tokenizer" / "tokenizer.json", folder / "tokenizer" / "tokenizer_config.json",
            folder / "text_encoder" / "config.json", folder / "text_encoder" / "model.safetensors"]


def load_tokenizer(checkpoint: Path):
    """The tokenizer of ``checkpoint/tokenizer`` (tokenizer.json / spiece.model; never a hub)."""
    folder = Path(checkpoint) / "tokenizer"
    if not folder.is_dir():
        raise EngineUnavailableError(f"checkpoint has a text_encoder/ but no tokenizer/ folder: {checkpoint}")
    tf = _transformers()
    try:
        return tf.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as e:  # transformers raises many kinds for a bad tokenizer folder
        raise ConfigError(f"{folder}: not a usable tokenizer ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def _diffusers_version() -> str:
    import diffusers

    return diffusers.__version__


def _weight_files(folder: Path) -> list[Path]:
    """The component's safetensors files; refuses pickled weights."""
    if not folder.is_dir():
        raise EngineUnavailableError(f"checkpoint has no {folder.name}/ folder: {folder}")
    files = sorted(folder.glob("*.safetensors"))
    pickled = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLED)
    if not files:
        if pickled:
            raise ConfigError(f"{folder} holds only pickled weights ({', '.join(pickled)}); paicli loads "
                              "safetensors only (convert them first)")
        raise EngineUnavailableError(f"no .safetensors weights in {folder}")
    return files


def read_config(folder: Path, name: str = "config.json") -> dict:
    path = folder / name
    if not path.is_file():
        raise ConfigError(f"missing {path}")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path} is not valid JSON: {e}") from None


def modules_of(keys) -> str:
    """Short list of the modules (first two name parts) the keys belong to."""
    mods = sorted({".".join(k.split(".")[:2]) for k in keys})
    return ", ".join(mods[:6]) + (f" and {len(mods) - 6} more" if len(mods) > 6 else "")


class _ParametersOnMeta:
    """While active, modules are built with their parameters on the meta device (no memory,
    no random init) and their buffers real (rotary tables and the like are computed in
    ``__init__`` and are not in the weights), so a 14B model costs nothing until loaded."""

    def __enter__(self):
        import torch

        self._register = register = torch.nn.Module.register_parameter

        def on_meta(module, name, param):
            if param is not None and param.device.type != "meta":
                param = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
            register(module, name, param)

        torch.nn.Module.register_parameter = on_meta
        return self

    def __exit__(self, *exc):
        import torch

        torch.nn.Module.register_parameter = self._register


def _empty_module(folder: Path, name: str, config: dict):
    """The component's module built from its config, parameters on meta."""
    if name == "text_encoder":
        arch = (config.get("architectures") or [TEXT_ENCODER])[0]
        if arch != TEXT_ENCODER:
            raise ConfigError(f"{folder}/config.json: unsupported text encoder {arch!r} (expected {TEXT_ENCODER})")
        tf = _transformers()
        try:
            cfg = tf.UMT5Config.from_dict(config)
            with _ParametersOnMeta():
                return tf.UMT5EncoderModel(cfg)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{folder}/config.json does not describe a {TEXT_ENCODER}: {e}") from None
    cls_name = config.get("_class_name", CLASSES[name])
    cls = _classes().get(cls_name)
    if cls is None or cls_name != CLASSES[name]:
        raise ConfigError(f"{folder}/config.json: unsupported class {cls_name!r} (expected {CLASSES[name]})")
    try:
        with _ParametersOnMeta():
            return cls.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{folder}/config.json does not describe a {cls_name}: {e}") from None


def _read_weights(files: list[Path], header_only: bool) -> dict:
    """Tensors of the safetensors ``files`` by name; with ``header_only`` meta tensors of the
    stored shapes (read from the headers, nothing allocated)."""
    import torch
    from safetensors import safe_open

    state = {}
    for f in files:
        try:
            with safe_open(str(f), framework="pt") as st:
                for key in st.keys():
                    state[key] = (torch.empty(st.get_slice(key).get_shape(), device="meta") if header_only
                                  else st.get_tensor(key))
        except Exception as e:  # safetensors raises its own error types
            raise ConfigError(f"{f}: not a readable safetensors file ({str(e).splitlines()[0]})") from None
    return state


def _diffusers_names(state: dict, name: str) -> dict:
    """Weights in the original Wan layout (single files as Wan-AI and ComfyUI ship them:
    ``blocks.0.self_attn.q.weight``, ``head.head.weight``, VAE ``encoder.conv1.weight``),
    renamed to diffusers' names with diffusers' own converters; others unchanged."""
    from diffusers.loaders import single_file_utils as conv

    state = {k[len("diffusion_model."):] if k.startswith("diffusion_model.") else k: v for k, v in state.items()}
    if name.startswith("transformer") and any(".self_attn." in k or k.startswith(("head.head", "model.diffusion_model."))
                                     for k in state):
        return conv.convert_wan_transformer_to_diffusers(state)
    if name == "vae" and "encoder.conv1.weight" in state:
        return conv.convert_wan_vae_to_diffusers(state)
    return state


def _tied(module) -> dict[str, str]:
    """Parameters a module shares with another (target -> source), which files store once."""
    tied = getattr(module, "_tied_weights_keys", None) or {}
    if isinstance(tied, dict):
        return dict(tied)
    if name := getattr(module, "base_model_prefix", ""):  # transformers 4.x: a list of targets
        return {k: f"{name}.shared.weight" for k in tied}
    return {k: "shared.weight" for k in tied}


def load_component(checkpoint: Path, name: str, dtype=None, weights: Path | None = None):
    """Build ``name`` (transformer, vae or text_encoder) from ``checkpoint/name/config.json``
    and load its safetensors strictly: from that folder, or from the single file ``weights``
    (original Wan names are converted). Names and shapes are checked against the config from
    the files' headers before any tensor is read; every error is one line."""
    folder = Path(checkpoint) / name
    files = [Path(weights)] if weights is not None else _weight_files(folder)
    config = read_config(folder)
    module = _empty_module(folder, name, config)
    where = files[0] if weights is not None else folder
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in _diffusers_names(_read_weights(files, True), name).items()}
    tied = {k: v for k, v in _tied(module).items() if v in stored}
    missing = [k for k in expected if k not in stored and k not in tied]
    unexpected = [k for k in stored if k not in expected]
    if missing:
        raise ConfigError(f"{where}: weights missing for {modules_of(missing)} ({len(missing)} tensors); "
                          "the checkpoint does not match its config")
    if unexpected:
        raise ConfigError(f"{where}: unexpected weights for {modules_of(unexpected)} ({len(unexpected)} tensors)")
    wrong = [k for k in stored if expected[k] != stored[k]]
    if wrong:
        k = wrong[0]
        raise ConfigError(f"{where}: {k} is {stored[k]}, the config needs {expected[k]}"
                          + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))
    state = _diffusers_names(_read_weights(files, False), name)
    module.load_state_dict(state, strict=False, assign=True)
    if tied and hasattr(module, "tie_weights"):
        module.tie_weights()
    left = [n for n, p in module.named_parameters() if p.device.type == "meta"]
    if left:
        raise ConfigError(f"{where}: no weights for {modules_of(left)}")
    module.requires_grad_(False)
    if dtype is not None:
        module = cast(module, dtype)
    return module.eval()


def cast(module, dtype):
    """``module`` in ``dtype``, except the parts its class keeps in float32 (norms, rope, time embedding)."""
    import torch

    module = torch.nn.Module.to(module, dtype)  # ModelMixin.to warns about the modules kept below
    keep = tuple(getattr(module, "_keep_in_fp32_modules", None) or ())
    for sub_name, sub in module.named_modules():
        if keep and any(part in keep for part in sub_name.split(".")):
            sub.float()
    return module


def describe(checkpoint: Path, weights: Path | None = None) -> dict:
    """What a checkpoint holds: components, classes, sizes, dtypes, parameter counts, LoRA,
    and a SHA-256 over its weight files (``weights``: a single transformer file used in place
    of the folder's)."""
    from safetensors import safe_open

    root = Path(checkpoint)
    if not root.exists():
        raise MissingInputError(f"no such checkpoint: {root}")
    if not root.is_dir():
        raise ConfigError(f"{root} is not a checkpoint folder (a diffusers folder with model_index.json)")
    index = read_config(root, "model_index.json")
    hashed: list[Path] = []
    out: dict = {"path": str(root), "class": index.get("_class_name"), "tiny": bool(index.get("tiny")),
                 "components": {}}
    names = list(COMPONENTS) + [n for n in ("transformer_2", "text_encoder") if (root / n).is_dir()]
    for name in names:
        folder = root / name
        files = [Path(weights)] if weights is not None and name == "transformer" else _weight_files(folder)
        config = read_config(folder)
        params, dtypes = 0, set()
        hashed += files
        for f in files:
            with safe_open(str(f), framework="pt") as st:
                for key in st.keys():
                    sl = st.get_slice(key)
                    shape = sl.get_shape()
                    n = 1
                    for s in shape:
                        n *= s
                    params += n
                    dtypes.add(str(sl.get_dtype()))
        keys = ("num_layers", "num_attention_heads", "attention_head_dim", "in_channels", "out_channels",
                "patch_size", "text_dim", "ffn_dim", "z_dim", "base_dim", "dim_mult", "d_model", "vocab_size")
        cls = config.get("_class_name") or (config.get("architectures") or [None])[0]
        out["components"][name] = {"class": cls, "parameters": params,
                                   "dtypes": sorted(dtypes), "files": [f.name for f in files],
                                   **{k: config[k] for k in keys if k in config}}
    scheduler = root / "scheduler" / "scheduler_config.json"
    out["scheduler"] = json.loads(scheduler.read_text()).get("_class_name") if scheduler.is_file() else None
    out["prompt_embeds"] = (root / "prompt_embeds.safetensors").is_file()
    out["tokenizer"] = (root / "tokenizer").is_dir()
    out["lora"] = sorted(p.name for p in (root / "lora").glob("*.safetensors")) if (root / "lora").is_dir() else []
    out["sha256"] = _files_sha256(hashed)
    return out


_DIGESTS: dict[tuple, str] = {}  # (path, size, mtime) of every file -> SHA-256, for this process


def _files_sha256(files: list[Path]) -> str:
    """SHA-256 over ``files`` in order; computed once per process while they stay unchanged
    (a render of many DiT shots describes the same checkpoint for every shot's sidecar)."""
    key = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        for f in files:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]
