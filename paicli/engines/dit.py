"""The DiT engine's loader: ``--engine dit`` settings, checked, into a
:class:`engine.dit.engine.DitReplaceEngine` with its weights loaded from a local checkpoint
(safetensors only; see :mod:`paicli.engines.checkpoints`) and kept warm between shots."""
from __future__ import annotations

from pathlib import Path

from paicli.engines.checkpoints import MAX_TEXT_TOKENS, cast, load_component, load_tokenizer, read_config
from paicli.engines.checkpoints import describe as describe_checkpoint
from paicli.engines.lora import apply_lora
from paicli.engines.prompt import default_prompt, load_prompt, prompt_text
from paicli.errors import ConfigError, EngineUnavailableError, MissingInputError, UsageError

USES_GPU = True  # Ray: one warm worker per GPU


class WeightsCache:
    """The loaded transformer and VAE of one checkpoint (with its LoRA, dtype and device),
    kept for the life of the process: a render of many shots (or a Ray worker) loads its
    weights once. One checkpoint at a time: loading another frees the previous one first."""

    def __init__(self):
        self._key, self._modules = None, None

    def get(self, key: tuple, load):
        """The modules for ``key``, from ``load()`` unless they are already here."""
        if self._key != key:
            self._key, self._modules = None, None  # the previous checkpoint's memory goes first
            self._modules = load()
            self._key = key
        return self._modules


WEIGHTS = WeightsCache()  # this process's warm DiT weights
EMBEDDINGS: dict = {}  # (checkpoint, prompt text, dtype, device) -> (prompt, negative) embeddings, this process's


def check_layout(model: Path, weights: Path | None = None) -> dict | None:
    """Refuse, before any weight is read, a checkpoint whose layout the in-context engine cannot
    run, in one line (exit 78): a transformer that takes other latent channels than the VAE
    makes (an image-to-video Wan: 36 = 16 latent + 4 mask + 16 image channels). Returns, for a
    two-expert Wan 2.2 (A14B: ``transformer_2`` denoises below ``boundary_ratio`` of the
    timesteps), {"boundary_ratio": r}; else None."""
    transformer, vae = read_config(model / "transformer"), read_config(model / "vae")
    takes, makes, gives = transformer.get("in_channels"), vae.get("z_dim"), transformer.get("out_channels")
    if takes != makes or (gives is not None and gives != makes):
        raise ConfigError(f"{weights or model}: the transformer takes {takes} latent channels and the VAE makes "
                          f"{makes}: an image-to-video (or otherwise conditioned) Wan; --engine dit needs a "
                          "text-to-video layout (Wan2.1-T2V, Wan2.2-TI2V-5B or -T2V-A14B), whose transformer "
                          "takes the VAE's latents")
    if not (model / "transformer_2").is_dir():
        return None
    if weights is not None:
        raise ConfigError(f"{model} is a two-expert Wan 2.2 (transformer and transformer_2): give the folder as "
                          "--model, not one weights file")
    ratio = read_config(model, "model_index.json").get("boundary_ratio")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
        raise ConfigError(f"{model}/model_index.json: a transformer_2 needs a boundary_ratio between 0 and 1 "
                          f"(the share of timesteps the first expert takes), not {ratio!r}")
    second = read_config(model / "transformer_2")
    if second.get("in_channels") != takes:
        raise ConfigError(f"{model}/transformer_2 takes {second.get('in_channels')} latent channels, "
                          f"transformer {takes}")
    return {"boundary_ratio": float(ratio)}


class DitLoader:
    """Everything ``--engine dit`` needs to build its engine from a checkpoint, checked when
    made (before any media is read); ``build()`` loads the weights (through :data:`WEIGHTS`)
    and the text embeddings and returns a :class:`engine.dit.engine.DitReplaceEngine`.

    ``model`` is a checkpoint folder, or a single transformer ``.safetensors`` file (diffusers
    or original Wan names) whose configs, VAE, scheduler and text encoder come from the folder
    ``model_config``: nothing is ever looked up on a hub. Text embeddings come from
    ``prompt_embeds`` when given, else from the checkpoint's text encoder (the structured
    prompt JSON, and an empty negative prompt, as Wan does), else from the checkpoint's
    ``prompt_embeds.safetensors``."""

    name = "dit"
    tracks_camera = False

    def __init__(self, model: Path, *, steps: int, guidance: float, window: int, overlap: int, seed: int,
                 device: str = "auto", dtype: str = "auto", tile: int | None = 64, loras: tuple = (),
                 lora_scale: float = 1.0, keep_foreground: bool = False, key_params=None, prompt: str | None = None,
                 prompt_embeds: str | None = None, references: tuple = (), model_config: Path | None = None,
                 perturb_light: float = 0.0, shift: float | None = None):
        model = Path(model)
        if not model.exists():
            raise MissingInputError(f"no such checkpoint: {model}")
        self.weights = None
        if model.is_file():
            if model.suffix.lower() != ".safetensors":
                raise ConfigError(f"{model}: paicli loads safetensors only (convert the weights first)")
            if model_config is None:
                raise ConfigError(f"{model} is a single weights file: give --model-config DIR, a checkpoint folder "
                                  "with the configs, VAE, scheduler and text encoder (nothing is fetched from a hub)")
            self.weights, model = model, Path(model_config)
            if not model.is_dir():
                raise MissingInputError(f"no such --model-config folder: {model}")
        self.model = model
        self.experts = check_layout(model, self.weights)
        self.shift = shift
        self.steps, self.guidance, self.window, self.overlap, self.seed = steps, guidance, window, overlap, seed
        self.device, self.dtype_name = pick_device(device), dtype
        self.tile = tile
        lora_dir = self.model / "lora"
        self.loras = [Path(p) for p in loras] or (sorted(lora_dir.glob("*.safetensors")) if lora_dir.is_dir() else [])
        self.lora_scale = lora_scale
        self.keep_foreground, self.key_params, self.perturb_light = keep_foreground, key_params, perturb_light
        self.prompt = load_prompt(prompt) if prompt else default_prompt([str(r) for r in references])
        if prompt_embeds:
            self.text = Path(prompt_embeds)
            if not self.text.is_file():
                raise MissingInputError(f"no such prompt embeddings file: {self.text}")
        elif (self.model / "text_encoder").is_dir():
            self.text = "text_encoder"
        elif (self.model / "prompt_embeds.safetensors").is_file():
            self.text = self.model / "prompt_embeds.safetensors"
        else:
            raise EngineUnavailableError(f"{self.model} has neither a text_encoder/ nor prompt_embeds.safetensors: "
                                         "give --prompt-embeds FILE")

    @property
    def dtype(self):
        return pick_dtype(self.dtype_name, self.device)

    def embeddings(self, callback=None):
        """(prompt, negative) text embeddings, (1, L, text_dim) each (negative may be None).
        From the text encoder once per process for a prompt (a render's shots that share one
        encode it once; the encoder is freed after each use, before the transformer needs the
        memory); ``callback`` is told of loading it and encoding (:func:`encode_texts`)."""
        from safetensors.torch import load_file

        if self.text == "text_encoder":
            text = prompt_text(self.prompt)
            key = (str(self.model), text, str(self.dtype), self.device)
            if key not in EMBEDDINGS:
                both = encode_texts(self.model, [text, ""], self.dtype, self.device, callback)
                EMBEDDINGS.clear()  # the last prompt's kept: a render's shots usually share it
                EMBEDDINGS[key] = (both[:1], both[1:])
            return EMBEDDINGS[key]
        try:
            tensors = load_file(str(self.text))
        except Exception as e:
            raise ConfigError(f"{self.text}: not a readable safetensors file ({str(e).splitlines()[0]})") from None
        if "prompt_embeds" not in tensors:
            raise ConfigError(f"{self.text} has no 'prompt_embeds' tensor")
        return tensors["prompt_embeds"], tensors.get("negative_prompt_embeds")

    def build(self, camera_path=None, callback=None):
        """The DiT engine, weights loaded (``camera_path`` is not used: the DiT tracks no camera).
        ``callback`` (an engine's progress callback) is told of each part loaded or encoded,
        when it is not warm already: stages ``load`` and ``encode`` of a ``subject`` (text
        encoder, prompt, transformer, vae), timed rather than counted (``unit`` None)."""
        from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

        from engine.dit.engine import DitParams, DitReplaceEngine

        sched_cfg = read_config(self.model / "scheduler", "scheduler_config.json")
        classes = {"UniPCMultistepScheduler": UniPCMultistepScheduler,
                   "FlowMatchEulerDiscreteScheduler": FlowMatchEulerDiscreteScheduler}
        cls = classes.get(sched_cfg.get("_class_name"))
        if cls is None:
            raise ConfigError(f"{self.model}/scheduler: unsupported scheduler {sched_cfg.get('_class_name')!r} "
                              f"(use {', '.join(classes)})")
        if self.shift is not None:  # UniPC calls Wan's time shift flow_shift, the Euler sampler shift
            sched_cfg = {**sched_cfg, ("flow_shift" if cls is UniPCMultistepScheduler else "shift"): self.shift}
        prompt, negative = self.embeddings(callback)  # the text encoder is freed before the transformer loads
        transformer, vae, second = self._weights(callback)
        text_dim = transformer.config.get("text_dim")
        if text_dim and prompt.shape[-1] != text_dim:
            raise ConfigError(f"the text embeddings are {prompt.shape[-1]}-wide, the transformer takes {text_dim}")
        params = DitParams(steps=self.steps, guidance=self.guidance, window=self.window, overlap=self.overlap,
                           tile=self.tile, seed=self.seed, device=self.device, dtype=self.dtype,
                           keep_foreground=self.keep_foreground, perturb_light=self.perturb_light)
        low_noise = None
        if second is not None:  # below the boundary timestep the low-noise expert denoises
            low_noise = (second, self.experts["boundary_ratio"] * sched_cfg.get("num_train_timesteps", 1000))
        return DitReplaceEngine(transformer, vae, cls.from_config(sched_cfg), prompt, negative, params,
                                key_params=self.key_params, description=self.describe, low_noise=low_noise)

    def _weights(self, callback=None):
        """(transformer, vae, transformer_2 or None), from this process's :data:`WEIGHTS` when
        the same checkpoint, LoRA, dtype and device were loaded before (else ``callback`` is
        told as each loads). A LoRA is merged into every expert."""
        key = (str(self.model), str(self.weights), tuple(map(str, self.loras)), self.lora_scale, str(self.dtype),
               self.device)

        def load():
            import torch

            experts = []
            for name in ("transformer", "transformer_2") if self.experts else ("transformer",):
                phase(callback, "load", name)
                expert = load_component(self.model, name, weights=self.weights)
                for lora in self.loras:
                    apply_lora(expert, lora, self.lora_scale)
                experts.append(cast(expert, self.dtype).to(self.device))
            phase(callback, "load", "vae")
            vae = load_component(self.model, "vae", torch.float32).to(self.device)  # as diffusers' Wan pipelines
            return experts[0], vae, (experts[1] if len(experts) > 1 else None)

        return WEIGHTS.get(key, load)

    def describe(self) -> dict:
        """What the sidecar records of the engine: weights, digest, LoRA and sampling settings."""
        return {"model": str(self.weights or self.model), "model_config": str(self.model) if self.weights else None,
                "model_sha256": describe_checkpoint(self.model, self.weights)["sha256"],
                "lora": [{"path": str(p), "scale": self.lora_scale} for p in self.loras], "steps": self.steps,
                "guidance": self.guidance, "window": self.window, "overlap": self.overlap, "seed": self.seed,
                "keep_foreground": self.keep_foreground, "perturb_light": self.perturb_light, "shift": self.shift,
                "experts": 2 if self.experts else 1,
                "boundary_ratio": self.experts["boundary_ratio"] if self.experts else None,
                "prompt": self.prompt, "prompt_text": prompt_text(self.prompt),
                "text_embeddings": "text_encoder" if self.text == "text_encoder" else str(self.text),
                "device": self.device, "dtype": str(self.dtype).replace("torch.", "")}


def encode_texts(model: Path, texts: list[str], dtype, device: str, callback=None):
    """The checkpoint ``model``'s text encoder run on ``texts`` as Wan encodes text:
    (len(texts), L, text_dim). The encoder is loaded for the call and freed after it;
    ``callback`` (an engine's progress callback) is told as it loads and as it encodes."""
    from engine.dit.text import encode_prompt

    phase(callback, "load", "text encoder")
    tokenizer = load_tokenizer(model)
    encoder = load_component(model, "text_encoder", dtype).to(device)
    phase(callback, "encode", "prompt")
    return encode_prompt(tokenizer, encoder, texts, MAX_TEXT_TOKENS)


def phase(callback, stage: str, subject: str) -> None:
    """Tell an engine's progress ``callback`` (if any) that ``stage`` of ``subject`` begins: a
    phase timed, not counted (:func:`engine.dit.engine.open_stage` with no total or unit); it
    ends when the next stage begins."""
    from engine.dit.engine import open_stage

    open_stage(callback, stage, None, None, subject=subject)


def pick_dtype(name: str, device: str):
    """The torch dtype for ``--dtype`` ``name``: ``auto`` is bf16 on a GPU and fp32 elsewhere."""
    import torch

    name = name if name != "auto" else ("bf16" if device == "cuda" else "fp32")
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]


def pick_device(device: str) -> str:
    """The device to run on: ``auto`` is a CUDA GPU when there is one; ``cuda`` without one is refused."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailableError("--device cuda: no CUDA GPU is available here")
    return device



def prepare(s, *, key_params, references: tuple = (), loras: tuple = ()) -> DitLoader:
    """The loader for resolved settings ``s`` (checked: a checkpoint is given and exists, the
    window overlap fits); ``key_params`` key the plate for the matte."""
    if not s.model:
        raise UsageError("--engine dit needs --model PATH (a checkpoint; `paicli model init-tiny DIR` makes a "
                         "tiny random one)")
    if s.overlap >= s.window:
        raise UsageError(f"--overlap {s.overlap} must be below --window {s.window}")
    return DitLoader(Path(s.model), steps=s.steps, guidance=s.guidance, window=s.window, overlap=s.overlap,
                     seed=s.seed, device=s.device, dtype=s.dtype, tile=s.vae_tile or None,
                     loras=loras, lora_scale=s.lora_scale, keep_foreground=s.keep_foreground,
                     key_params=key_params, prompt=s.prompt, prompt_embeds=s.prompt_embeds, references=references,
                     model_config=Path(s.model_config) if s.model_config else None,
                     perturb_light=s.perturb_light, shift=s.shift)
