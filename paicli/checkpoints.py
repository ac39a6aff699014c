"""DiT checkpoints on disk: write a tiny random one, describe one, load one (safetensors only).

The layout is a diffusers pipeline folder, the format real Wan weights come in::

    DIR/model_index.json
    DIR/transformer/config.json + *.safetensors (one file, or shards with an index)
    DIR/vae/config.json + *.safetensors
    DIR/scheduler/scheduler_config.json
    DIR/prompt_embeds.safetensors      (optional: precomputed text embeddings, key "prompt_embeds")
    DIR/lora/*.safetensors             (optional LoRA weights)

Weights are read with ``safetensors`` into modules built from their ``config.json``; a
file that would need unpickling (``.bin``, ``.pt``, ``.ckpt``) is refused, and nothing is
ever fetched from a hub. Missing, unexpected or mis-shaped tensors are reported in one line
naming the modules they belong to.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from paicli.errors import ConfigError, EngineUnavailableError, MissingInputError, OutputError

COMPONENTS = {"transformer": "WanTransformer3DModel", "vae": "AutoencoderKLWan"}
PICKLED = (".bin", ".pt", ".pth", ".ckpt", ".pkl")

TINY = {
    "transformer": dict(patch_size=[1, 2, 2], num_attention_heads=2, attention_head_dim=12, in_channels=4,
                        out_channels=4, text_dim=16, freq_dim=16, ffn_dim=32, num_layers=2, rope_max_seq_len=256),
    "vae": dict(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1, latents_mean=[0.0] * 4,
                latents_std=[1.0] * 4),
}


def _classes():
    from diffusers import AutoencoderKLWan, WanTransformer3DModel

    return {"WanTransformer3DModel": WanTransformer3DModel, "AutoencoderKLWan": AutoencoderKLWan}


def _write_safetensors(tensors: dict, path: Path) -> None:
    from safetensors.torch import save_file

    from paicli.media.atomic import atomic_output

    with atomic_output(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata={"format": "pt"})


def _write_json(data: dict, path: Path) -> None:
    from paicli.media.atomic import atomic_output

    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=1) + "\n")


def init_tiny(folder: Path, seed: int = 0) -> list[Path]:
    """Write a tiny random checkpoint (transformer, VAE, scheduler, prompt embeddings) into
    ``folder`` in the on-disk format real weights use; returns the files written."""
    import torch
    from diffusers import UniPCMultistepScheduler

    from paicli import __version__

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
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    (folder / "scheduler").mkdir(exist_ok=True)
    _write_json({"_class_name": "UniPCMultistepScheduler", **dict(scheduler.config)},
                folder / "scheduler" / "scheduler_config.json")
    _write_safetensors({"prompt_embeds": torch.randn(1, 8, TINY["transformer"]["text_dim"])},
                       folder / "prompt_embeds.safetensors")
    _write_json({"_class_name": "PaicliWanInContext", "_diffusers_version": _diffusers_version(),
                 "paicli_version": __version__, "tiny": True,
                 "transformer": ["diffusers", "WanTransformer3DModel"], "vae": ["diffusers", "AutoencoderKLWan"],
                 "scheduler": ["diffusers", "UniPCMultistepScheduler"]}, folder / "model_index.json")
    written += [folder / "scheduler" / "scheduler_config.json", folder / "prompt_embeds.safetensors",
                folder / "model_index.json"]
    return written


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


def _read_config(folder: Path, name: str = "config.json") -> dict:
    path = folder / name
    if not path.is_file():
        raise ConfigError(f"missing {path}")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path} is not valid JSON: {e}") from None


def _modules_of(keys) -> str:
    """Short list of the modules (first two name parts) the keys belong to."""
    mods = sorted({".".join(k.split(".")[:2]) for k in keys})
    return ", ".join(mods[:6]) + (f" and {len(mods) - 6} more" if len(mods) > 6 else "")


def load_component(checkpoint: Path, name: str, dtype=None):
    """Build ``name`` (transformer or vae) from its config and load its safetensors strictly."""
    import torch
    from safetensors.torch import load_file

    folder = Path(checkpoint) / name
    files = _weight_files(folder)
    config = _read_config(folder)
    cls_name = config.get("_class_name", COMPONENTS[name])
    cls = _classes().get(cls_name)
    if cls is None:
        raise ConfigError(f"{folder}/config.json: unsupported class {cls_name!r} (expected {COMPONENTS[name]})")
    try:
        module = cls.from_config({k: v for k, v in config.items() if not k.startswith("_")})
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{folder}/config.json does not describe a {cls_name}: {e}") from None
    state = {}
    for f in files:
        try:
            state.update(load_file(str(f)))
        except Exception as e:  # safetensors raises its own error types
            raise ConfigError(f"{f}: not a readable safetensors file ({str(e).splitlines()[0]})") from None
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing:
        raise ConfigError(f"{folder}: weights missing for {_modules_of(missing)} ({len(missing)} tensors); "
                          "the checkpoint does not match its config")
    if unexpected:
        raise ConfigError(f"{folder}: unexpected weights for {_modules_of(unexpected)} ({len(unexpected)} tensors)")
    wrong = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
    if wrong:
        k = wrong[0]
        raise ConfigError(f"{folder}: {k} is {tuple(state[k].shape)}, the config needs {tuple(expected[k].shape)}"
                          + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))
    module.load_state_dict(state, strict=True)
    if dtype is not None and dtype != torch.float32:
        module = _cast(module, dtype)
    return module.eval()


def _cast(module, dtype):
    """``module`` in ``dtype``, except the parts its class keeps in float32 (norms, rope, time embedding)."""
    module = module.to(dtype)
    keep = tuple(getattr(module, "_keep_in_fp32_modules", None) or ())
    for sub_name, sub in module.named_modules():
        if keep and any(part in keep for part in sub_name.split(".")):
            sub.float()
    return module


def describe(checkpoint: Path) -> dict:
    """What a checkpoint holds: components, classes, sizes, dtypes, parameter counts, LoRA,
    and a SHA-256 over its weight files."""
    from safetensors import safe_open

    root = Path(checkpoint)
    if not root.exists():
        raise MissingInputError(f"no such checkpoint: {root}")
    if not root.is_dir():
        raise ConfigError(f"{root} is not a checkpoint folder (a diffusers folder with model_index.json)")
    index = _read_config(root, "model_index.json")
    digest = hashlib.sha256()
    out: dict = {"path": str(root), "class": index.get("_class_name"), "tiny": bool(index.get("tiny")),
                 "components": {}}
    for name in COMPONENTS:
        folder = root / name
        files = _weight_files(folder)
        config = _read_config(folder)
        params, dtypes = 0, set()
        for f in files:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
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
                "patch_size", "text_dim", "ffn_dim", "z_dim", "base_dim", "dim_mult")
        out["components"][name] = {"class": config.get("_class_name"), "parameters": params,
                                   "dtypes": sorted(dtypes), "files": [f.name for f in files],
                                   **{k: config[k] for k in keys if k in config}}
    scheduler = root / "scheduler" / "scheduler_config.json"
    out["scheduler"] = json.loads(scheduler.read_text()).get("_class_name") if scheduler.is_file() else None
    out["prompt_embeds"] = (root / "prompt_embeds.safetensors").is_file()
    out["lora"] = sorted(p.name for p in (root / "lora").glob("*.safetensors")) if (root / "lora").is_dir() else []
    out["sha256"] = digest.hexdigest()
    return out


_LORA_PREFIXES = ("transformer.", "diffusion_model.", "base_model.model.")


def apply_lora(module, path: Path, scale: float = 1.0) -> int:
    """Merge a LoRA (safetensors, peft/diffusers naming ``X.lora_A.weight`` / ``X.lora_B.weight``
    or ``X.lora_down.weight`` / ``X.lora_up.weight``, optional ``X.alpha``) into ``module``'s
    weights: W += scale * (alpha / rank) * B @ A. Returns how many layers it changed."""
    import torch
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise ConfigError(f"{path}: LoRA weights must be .safetensors")
    if not path.is_file():
        raise MissingInputError(f"no such LoRA file: {path}")
    try:
        tensors = load_file(str(path))
    except Exception as e:
        raise ConfigError(f"{path}: not a readable safetensors file ({str(e).splitlines()[0]})") from None
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name = key
        for prefix in _LORA_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        for tag, role in ((".lora_A.weight", "A"), (".lora_down.weight", "A"), (".lora_B.weight", "B"),
                          (".lora_up.weight", "B"), (".alpha", "alpha")):
            if name.endswith(tag):
                pairs.setdefault(name[:-len(tag)], {})[role] = value
                break
    params = dict(module.named_parameters())
    unknown = [n for n in pairs if f"{n}.weight" not in params]
    if unknown:
        raise ConfigError(f"{path}: LoRA for layers the model does not have: {_modules_of(unknown)}")
    incomplete = [n for n, p in pairs.items() if "A" not in p or "B" not in p]
    if incomplete:
        raise ConfigError(f"{path}: LoRA layers without both down and up weights: {_modules_of(incomplete)}")
    with torch.no_grad():
        for name, p in pairs.items():
            weight = params[f"{name}.weight"]
            a, b = p["A"].float(), p["B"].float()
            rank = a.shape[0]
            factor = scale * (float(p["alpha"]) / rank if "alpha" in p else 1.0)
            if (b.shape[0], a.shape[1]) != tuple(weight.shape):
                raise ConfigError(f"{path}: LoRA for {name} makes {(b.shape[0], a.shape[1])}, the layer is "
                                  f"{tuple(weight.shape)}")
            weight.add_((factor * (b @ a)).to(weight.dtype))
    return len(pairs)


class DitSetup:
    """Everything ``paicli replace --engine dit`` needs to build its engine from a checkpoint."""

    def __init__(self, model: Path, *, steps: int, guidance: float, window: int, overlap: int, seed: int,
                 device: str = "auto", dtype: str = "auto", tile: int | None = 64, loras: tuple = (),
                 lora_scale: float = 1.0, keep_foreground: bool = False, key_params=None, prompt: str | None = None,
                 prompt_embeds: str | None = None, references: tuple = ()):
        from paicli.prompt import default_prompt, load_prompt

        self.model = Path(model)
        if not self.model.exists():
            raise MissingInputError(f"no such checkpoint: {self.model}")
        self.steps, self.guidance, self.window, self.overlap, self.seed = steps, guidance, window, overlap, seed
        self.device, self.dtype_name = _pick_device(device), dtype
        self.tile = tile
        lora_dir = self.model / "lora"
        self.loras = [Path(p) for p in loras] or (sorted(lora_dir.glob("*.safetensors")) if lora_dir.is_dir() else [])
        self.lora_scale = lora_scale
        self.keep_foreground, self.key_params = keep_foreground, key_params
        self.prompt = load_prompt(prompt) if prompt else default_prompt([str(r) for r in references])
        self.embeds = Path(prompt_embeds) if prompt_embeds else self.model / "prompt_embeds.safetensors"
        if prompt_embeds and not self.embeds.is_file():
            raise MissingInputError(f"no such prompt embeddings file: {self.embeds}")

    @property
    def dtype(self):
        import torch

        name = self.dtype_name if self.dtype_name != "auto" else ("bf16" if self.device == "cuda" else "fp32")
        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]

    def engine(self):
        from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
        from safetensors.torch import load_file

        from engine.dit.engine import DitParams, DitReplaceEngine

        transformer = load_component(self.model, "transformer")
        for lora in self.loras:
            apply_lora(transformer, lora, self.lora_scale)
        if self.dtype != transformer.dtype:
            transformer = _cast(transformer, self.dtype)
        transformer = transformer.to(self.device)
        vae = load_component(self.model, "vae", self.dtype).to(self.device)
        sched_cfg = _read_config(self.model / "scheduler", "scheduler_config.json")
        classes = {"UniPCMultistepScheduler": UniPCMultistepScheduler,
                   "FlowMatchEulerDiscreteScheduler": FlowMatchEulerDiscreteScheduler}
        cls = classes.get(sched_cfg.get("_class_name"))
        if cls is None:
            raise ConfigError(f"{self.model}/scheduler: unsupported scheduler {sched_cfg.get('_class_name')!r} "
                              f"(use {', '.join(classes)})")
        embeds = self.embeds
        if not embeds.is_file():
            raise EngineUnavailableError(f"{self.model} has no prompt_embeds.safetensors, and this build has no "
                                         "text encoder: give precomputed prompt embeddings")
        tensors = load_file(str(embeds))
        if "prompt_embeds" not in tensors:
            raise ConfigError(f"{embeds} has no 'prompt_embeds' tensor")
        params = DitParams(steps=self.steps, guidance=self.guidance, window=self.window, overlap=self.overlap,
                           tile=self.tile, seed=self.seed, device=self.device, dtype=self.dtype,
                           keep_foreground=self.keep_foreground)
        return DitReplaceEngine(transformer, vae, cls.from_config(sched_cfg), tensors["prompt_embeds"],
                                tensors.get("negative_prompt_embeds"), params, key_params=self.key_params)

    def describe(self) -> dict:
        return {"model": str(self.model), "model_sha256": describe(self.model)["sha256"],
                "lora": [{"path": str(p), "scale": self.lora_scale} for p in self.loras], "steps": self.steps,
                "guidance": self.guidance, "window": self.window, "overlap": self.overlap, "seed": self.seed,
                "keep_foreground": self.keep_foreground, "prompt": self.prompt, "prompt_embeds": str(self.embeds),
                "device": self.device, "dtype": str(self.dtype).replace("torch.", "")}


def _pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailableError("--device cuda: no CUDA GPU is available here")
    return device
