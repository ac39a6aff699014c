"""The DiT replace engine: PAI-Studio's in-context generation with a Wan transformer.

Per shot: the plate (the foreground condition) and the reference stills are encoded by the
causal VAE, streaming; the target starts as seeded noise; at every step each temporal
window of the target is denoised in context with the same window of the plate and every
reference, each at the temporal position of the latent frame it anchors relative to the
window, inside it or not (temporal PE cloning, :mod:`engine.dit.rope`,
:mod:`engine.dit.sequence`), with classifier-free guidance on the text only, and the
scheduler steps once on the whole latent (:mod:`engine.dit.chunking`); the result is decoded
streaming in spatial tiles (:mod:`engine.dit.vae`). Conditions are clean (timestep 0) and
never decoded. The transformer runs in its dtype (bf16 on a GPU); the latents, the timesteps
and the scheduler stay float32 and the VAE in its own (float32) weights, as stock Wan keeps
them.

The model sees display-encoded video in [-1, 1] (BT.709 here); the engine interface is
scene-linear, so frames are encoded on the way in and decoded on the way out. Shots are
padded to 4k+1 frames (the causal VAE's length) and to a whole number of transformer patches
(16 px with Wan 2.1's VAE, 32 with 2.2's: 1080 lines become 1088), and trimmed back;
reference stills are scaled to cover the plate's frame and centre-cropped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from engine.colour import bt709_inverse_oetf, bt709_oetf
from engine.dit.chunking import plan_windows, sample
from engine.dit.incontext import in_context_forward
from engine.dit.rope import TEMPORAL_COMPRESSION, latent_frame
from engine.dit.sequence import window_segments
from engine.dit.vae import decode_frames, denormalise, encode_frames, pixels_per_latent
from engine.interface import EngineInputError, FrameLayers, Progress, Reference, TwoPassEngine
from engine.key.keyer import Keyer, KeyParams
from engine.key.screen import find_screen


@dataclass
class DitParams:
    steps: int = 30
    guidance: float = 5.0  # classifier-free guidance scale (1 = off)
    window: int = 21  # latent frames per window (81 pixel frames: Wan's training length)
    overlap: int = 4  # latent frames shared by neighbouring windows
    tile: int | None = 64  # latent pixels per VAE decode tile (None: whole frames)
    tile_overlap: int = 4
    seed: int = 0
    perturb_light: float = 0.0  # 0..1: the plate condition relit by a seeded smooth gain (as in training)
    keep_foreground: bool = False  # the keyed plate's own subject over the generated frame, relit by a smooth gain
    device: str = "cpu"
    dtype: torch.dtype = torch.float32  # the transformer's; latents, timesteps and the VAE stay float32


def light_perturbation(height: int, width: int, strength: float, seed: int) -> np.ndarray:
    """A seeded smooth illumination change (H, W, 3) float32 linear-light gain, the kind
    training perturbs the foreground with so the model relights rather than copies it: a
    per-channel colour gain of up to +-40 % and a linear ramp of up to +-50 % across the frame
    in a random direction, both scaled by ``strength`` (0..1). One map for the whole shot, so
    the perturbation does not flicker."""
    rng = np.random.default_rng(seed + 7919)
    colour = 1.0 + 0.4 * strength * rng.uniform(-1.0, 1.0, 3)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (np.cos(angle) * (x / max(width - 1, 1) - 0.5) + np.sin(angle) * (y / max(height - 1, 1) - 0.5))
    gain = (1.0 + 1.0 * strength * ramp)[..., None] * colour[None, None]
    return np.clip(gain, 0.05, None).astype(np.float32)


def fit_reference(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A still scaled to cover (height, width) and centre-cropped to it (no distortion), so
    its tokens lie on the plate's grid."""
    import cv2

    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image[..., :3]
    k = max(height / h, width / w)
    nh, nw = max(height, round(h * k)), max(width, round(w * k))
    scaled = cv2.resize(np.ascontiguousarray(image[..., :3]), (nw, nh),
                        interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
    y, x = (nh - height) // 2, (nw - width) // 2
    return scaled[y:y + height, x:x + width]


def to_model(frames: list[np.ndarray], device, dtype, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Linear float32 (H, W, 3|4) frames -> (1, 3, n, H', W') BT.709-encoded in [-1, 1],
    edge-extended at the bottom and right to ``size`` (H', W') when given."""
    arr = np.stack([bt709_oetf(np.clip(f[..., :3], 0.0, 1.0)) for f in frames])  # n, H, W, 3
    if size is not None and size != arr.shape[1:3]:
        arr = np.pad(arr, ((0, 0), (0, size[0] - arr.shape[1]), (0, size[1] - arr.shape[2]), (0, 0)), mode="edge")
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(3, 0, 1, 2)[None]
    return (t * 2.0 - 1.0).to(device=device, dtype=dtype)


def padded_size(vae, model, height: int, width: int) -> tuple[int, int]:
    """(height, width) rounded up to a whole number of transformer patches in pixels (16 px
    with Wan 2.1's VAE and 2x2 patches, 32 with 2.2's): the size frames are edge-extended to."""
    step = pixels_per_latent(vae) * max(model.config.patch_size[1:])
    return -(-height // step) * step, -(-width // step) * step


def encode_clip(vae, frames: list[np.ndarray], device, size: tuple[int, int], tile: int | None = None,
                overlap: int = 4) -> torch.Tensor:
    """Latents (1, z, F, h, w) of a whole clip of linear frames (4k + 1 of them: the causal
    VAE's length; one still gives one latent frame), encoded in its causal chunks (the first
    frame alone, then 4 per latent frame) at ``size`` (:func:`padded_size`)."""
    chunks = [frames[:1]] + [frames[i:i + TEMPORAL_COMPRESSION] for i in range(1, len(frames), TEMPORAL_COMPRESSION)]
    dtype = _vae_dtype(vae)
    return torch.cat(list(encode_frames(vae, (to_model(c, device, dtype, size) for c in chunks), tile, overlap)), 2)


def _to_linear(pixels: torch.Tensor, height: int, width: int) -> list[np.ndarray]:
    """(1, 3, n, H', W') in [-1, 1] -> linear float32 (height, width, 3) frames (the top-left crop)."""
    enc = ((pixels[0, :, :, :height, :width].float().clamp(-1, 1) + 1.0) / 2.0).permute(1, 2, 3, 0).cpu().numpy()
    return [np.ascontiguousarray(bt709_inverse_oetf(f), np.float32) for f in enc]


class DitReplaceEngine(TwoPassEngine):
    """See the module notes. ``prompt`` and ``negative``: text embeddings (1, L, text_dim);
    ``description``: a callable giving what the loader knows of the weights (paths, digest,
    LoRA ...), asked for by ``describe()`` when the sidecar is written. ``low_noise``: a
    two-expert Wan 2.2's (A14B) second transformer and the timestep below which it denoises
    instead of the first (as diffusers' WanPipeline switches). The engine tracks no camera."""

    name = "dit"

    def __init__(self, transformer, vae, scheduler, prompt: torch.Tensor, negative: torch.Tensor | None,
                 params: DitParams | None = None, key_params=None, description: Callable[[], dict] | None = None,
                 low_noise: tuple | None = None):
        self.model, self.vae, self.scheduler = transformer, vae, scheduler
        self.low_noise = low_noise
        self.key_params = key_params
        self.p = params or DitParams()
        self.prompt = prompt.to(self.p.device, self.p.dtype)
        self.negative = (negative if negative is not None else torch.zeros_like(prompt)).to(self.p.device, self.p.dtype)
        self.description = description
        self._latents = None
        self.report: dict = {}
        self.timing = {"analysis_s": 0.0, "render_s": 0.0, "frames": 0}

    def describe(self) -> dict:
        return dict(self.description()) if self.description else {}

    def analyse(self, frames: Callable[[], Iterator[np.ndarray]], count: int, references: list[Reference],
                callback: Progress | None = None) -> None:
        """Pass 1: encode the plate (stage ``encode``, in frames) and the references (``encode``
        of ``references``, in stills), and sample the target's latents (``sample``, in steps)."""
        p = self.p
        padded = ((max(count, 1) - 1 + TEMPORAL_COMPRESSION - 1) // TEMPORAL_COMPRESSION) * TEMPORAL_COMPRESSION + 1
        t0 = time.perf_counter()
        with torch.no_grad():
            encoded = open_stage(callback, "encode", count, "frames")
            plate = self._encode_all(frames, count, padded, encoded).to(p.dtype)  # the model's input from here on
            refs = self._encode_references(references, callback)
            g = torch.Generator(device="cpu").manual_seed(p.seed)
            # the scheduler works on float32 latents and timesteps whatever the transformer's
            # dtype (as stock Wan does): bf16 would round UniPC's 999 to 1000 and its steps' sums
            noise = torch.randn(plate.shape, generator=g, dtype=torch.float32).to(p.device)
            table = int(self.model.rope.max_seq_len)
            dropped: list[dict] = []

            def window_model(lat, span, t):
                s, e = span
                segments, left_out = window_segments(lat, plate, refs, s, e, t, table, p.dtype)
                for a in left_out:
                    if {"anchor_latent": a, "window": [s, e]} not in dropped:
                        dropped.append({"anchor_latent": a, "window": [s, e]})
                model = self.model
                if self.low_noise is not None and float(t.reshape(-1)[0]) < self.low_noise[1]:
                    model = self.low_noise[0]
                cond = in_context_forward(model, segments, self.prompt)[0].float()
                if p.guidance == 1.0:
                    return cond
                uncond = in_context_forward(model, segments, self.negative)[0].float()
                return uncond + p.guidance * (cond - uncond)

            stepped = open_stage(callback, "sample", p.steps, "steps")
            self._latents = sample(window_model, self.scheduler, noise, p.steps, p.window, p.overlap,
                                   lambda info: stepped(info["step"] + 1))
            self.report.update(engine="dit", steps=p.steps, guidance=p.guidance, seed=p.seed,
                               windows=len(plan_windows(int(self._latents.shape[2]), p.window, p.overlap)),
                               latent_frames=int(self._latents.shape[2]), padded_frames=padded,
                               references=[{"anchor_latent": a} for a, _ in refs])
            if self.low_noise is not None:
                self.report["low_noise_expert_below_timestep"] = float(self.low_noise[1])
            if dropped:  # beyond the rotary table from a window: that window generates without it
                self.report["references_dropped"] = dropped
            self.timing["analysis_s"] += time.perf_counter() - t0

    def render(self, frames: Callable[[], Iterator[np.ndarray]], count: int,
               callback: Progress | None = None) -> Iterator[FrameLayers]:
        """Pass 2: decode the sampled latents in tiles and lay the keyed plate's matte under them
        (stage ``render``, in frames)."""
        if self._latents is None:
            raise RuntimeError("render() needs analyse() first")
        p = self.p
        (height, width), _ = self._size
        with torch.no_grad():
            done = 0
            rendered = open_stage(callback, "render", count, "frames")
            keyed = _Foreground(frames(), self.key_params, p.keep_foreground)
            t0 = time.perf_counter()
            latents = denormalise(self.vae, self._latents.to(_vae_dtype(self.vae)))
            for pixels in decode_frames(self.vae, latents, p.tile, p.tile_overlap):
                for img in _to_linear(pixels, height, width):
                    if done >= count:
                        break
                    layers = keyed.over(img)
                    self.timing["render_s"] += time.perf_counter() - t0
                    self.timing["frames"] += 1
                    done += 1
                    rendered(done)
                    yield layers
                    t0 = time.perf_counter()
        self._latents = None  # the sampled shot's memory goes with the pass
        self.report["timing"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in self.timing.items()}

    def _encode_references(self, references: list[Reference], callback: Progress | None) -> list:
        """(anchor latent frame, latents (1, z, 1, h, w) in the transformer's dtype) of each
        still, by anchor, each fitted to the plate's frame (``self._size``) and encoded alone."""
        if not references:
            return []
        p = self.p
        (height, width), size = self._size
        encoded = []
        stills = open_stage(callback, "encode", len(references), "stills", subject="references")
        for r in sorted(references, key=lambda r: r.anchor):
            still = to_model([fit_reference(r.image, height, width)], p.device, _vae_dtype(self.vae), size)
            encoded.append((latent_frame(r.anchor),
                            next(encode_frames(self.vae, [still], p.tile, p.tile_overlap)).to(p.dtype)))
            stills(len(encoded))
        return encoded

    def _encode_all(self, frames, count: int, padded: int, encoded: Callable[[int], None]) -> torch.Tensor:
        """The plate's latents (1, z, F, h, w), encoded in causal chunks as frames arrive
        (padded to 4k+1 frames by repeating the last, and to a whole number of transformer
        patches by extending the edges; ``self._size`` keeps both sizes). ``encoded(n)`` is
        told after each chunk how many of the shot's ``count`` frames are encoded."""
        def chunks():
            it = iter(frames())
            buf, last, gain = [], None, None
            for i in range(padded):
                img = next(it, None) if i < count else None
                if img is not None and self.p.perturb_light > 0:
                    if gain is None:
                        gain = light_perturbation(img.shape[0], img.shape[1], self.p.perturb_light, self.p.seed)
                    img = img[..., :3] * gain
                last = img if img is not None else last
                if last is None:
                    raise EngineInputError("the shot has no frames")
                if i == 0:
                    h, w = last.shape[:2]
                    self._size = (h, w), padded_size(self.vae, self.model, h, w)
                buf.append(last)
                if len(buf) == (1 if i == 0 else TEMPORAL_COMPRESSION):
                    yield to_model(buf, self.p.device, _vae_dtype(self.vae), self._size[1])
                    buf = []

        latents = []
        for z in encode_frames(self.vae, chunks(), self.p.tile, self.p.tile_overlap):
            latents.append(z)  # latent frame i holds pixel frames up to 4i (the first alone)
            encoded(min(1 + TEMPORAL_COMPRESSION * (len(latents) - 1), count))
        return torch.cat(latents, 2)


def open_stage(callback: Progress | None, name: str, total: int | None, unit: str | None,
               **more) -> Callable[[int], None]:
    """Open stage ``name`` of the work (``total`` ``unit``, plural; both None: a phase timed,
    not counted): tell ``callback`` ``{"stage": name, "done": 0, "total", "unit", **more}``
    now (``more``: ``subject``, what the stage works on when it is not the shot), and return
    the reporter to call with the units done so far."""
    def report(done: int) -> None:
        if callback:
            callback({"stage": name, "done": done, "total": total, "unit": unit, **more})

    report(0)
    return report


def _vae_dtype(vae) -> torch.dtype:
    """The dtype the VAE's weights are in (the loader keeps them float32, as diffusers does)."""
    return next(vae.parameters()).dtype


class _Foreground:
    """The layers of each generated frame, from the plate keyed by the classic keyer.

    By default the generated frame is the comp, the fg and the bg (the DiT makes no separate
    background), and the plate's key is the matte (the subject stays where the plate has it;
    a plate with no screen to key gets a full matte). With ``keep`` (``--keep-foreground``) the
    keyed subject is composited over the generated frame, the generated relighting carried
    over as a smooth per-channel gain (heavily blurred generated / keyed foreground inside the
    matte), so the subject stays pixel-exact in identity and detail but takes the new light."""

    def __init__(self, frames: Iterator[np.ndarray], key_params, keep: bool):
        self._frames = iter(frames)
        self._keyer = Keyer(key_params or KeyParams(), reuse_buffers=False)
        self._keep, self._keyable = keep, None

    def over(self, generated: np.ndarray) -> FrameLayers:
        import cv2

        img = next(self._frames)
        if img.shape[-1] == 4 and not self._keep:  # a matted plate brings its own matte
            return FrameLayers(generated, generated, generated, np.ascontiguousarray(img[..., 3], np.float32))
        img = img[..., :3]
        if self._keyable is None:
            self._keyer.screen = find_screen(img, colour=self._keyer.p.screen_colour).screen
            self._keyable = self._keyer.screen is not None
            if not self._keyable and self._keep:
                raise EngineInputError("--keep-foreground: no green or blue screen found to key the subject")
        if not self._keyable:
            return FrameLayers(generated, generated, generated, np.ones(generated.shape[:2], np.float32))
        res = self._keyer.key(img)
        if not self._keep:
            return FrameLayers(generated, generated, generated, res.alpha)
        a = res.alpha[..., None]
        sigma = 0.05 * max(img.shape[:2])
        wsum = cv2.GaussianBlur(res.alpha, (0, 0), sigma)[..., None] + 1e-4
        gen_fg = cv2.GaussianBlur(generated * a, (0, 0), sigma) / wsum
        key_fg = cv2.GaussianBlur(res.fg * a, (0, 0), sigma) / wsum
        gain = np.clip(gen_fg / np.maximum(key_fg, 1e-4), 0.25, 4.0).astype(np.float32)
        relit = (res.fg * gain).astype(np.float32)
        comp = (relit * a + generated * (1.0 - a)).astype(np.float32)
        return FrameLayers(comp, relit, generated, res.alpha)
