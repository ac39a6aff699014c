"""The DiT replace engine: PAI-Studio's in-context generation with a Wan transformer.

Per shot: the plate (the foreground condition) and the reference stills are encoded by the
causal VAE, streaming; the target starts as seeded noise; at every step each temporal
window of the target is denoised in context with the same window of the plate and the
references that anchor inside it (each at the latent frame it anchors: temporal PE cloning,
:mod:`engine.dit.rope`), with classifier-free guidance, and the scheduler steps once on
the whole latent (:mod:`engine.dit.chunking`); the result is decoded streaming in spatial
tiles (:mod:`engine.dit.vae`). Conditions are clean (timestep 0) and never decoded.

The model sees display-encoded video in [-1, 1] (BT.709 here); the engine interface is
scene-linear, so frames are encoded on the way in and decoded on the way out. Shots are
padded to 4k+1 frames (the causal VAE's length) and trimmed back.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from engine.colour import bt709_inverse_oetf, bt709_oetf
from engine.dit.chunking import plan_windows, sample
from engine.dit.incontext import Segment, in_context_forward
from engine.dit.rope import TEMPORAL_COMPRESSION, latent_frame
from engine.dit.vae import decode_frames, denormalise, encode_frames
from engine.interface import EngineInputError, FrameLayers, Progress, Reference


@dataclass
class DitParams:
    steps: int = 30
    guidance: float = 5.0  # classifier-free guidance scale (1 = off)
    window: int = 21  # latent frames per window (81 pixel frames: Wan's training length)
    overlap: int = 4  # latent frames shared by neighbouring windows
    tile: int | None = 64  # latent pixels per VAE decode tile (None: whole frames)
    tile_overlap: int = 4
    seed: int = 0
    keep_foreground: bool = False  # the keyed plate's own subject over the generated frame, relit by a smooth gain
    device: str = "cpu"
    dtype: torch.dtype = torch.float32


def _to_model(frames: list[np.ndarray], device, dtype) -> torch.Tensor:
    """Linear float32 (H, W, 3|4) frames -> (1, 3, n, H, W) BT.709-encoded in [-1, 1]."""
    arr = np.stack([bt709_oetf(np.clip(f[..., :3], 0.0, 1.0)) for f in frames])  # n, H, W, 3
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(3, 0, 1, 2)[None]
    return (t * 2.0 - 1.0).to(device=device, dtype=dtype)


def _to_linear(pixels: torch.Tensor) -> list[np.ndarray]:
    """(1, 3, n, H, W) in [-1, 1] -> linear float32 (H, W, 3) frames."""
    enc = ((pixels[0].float().clamp(-1, 1) + 1.0) / 2.0).permute(1, 2, 3, 0).cpu().numpy()
    return [np.ascontiguousarray(bt709_inverse_oetf(f), np.float32) for f in enc]


class DitReplaceEngine:
    """See the module notes. ``prompt`` and ``negative``: text embeddings (1, L, text_dim)."""

    def __init__(self, transformer, vae, scheduler, prompt: torch.Tensor, negative: torch.Tensor | None,
                 params: DitParams | None = None, key_params=None):
        self.model, self.vae, self.scheduler = transformer, vae, scheduler
        self.key_params = key_params
        self.p = params or DitParams()
        self.prompt = prompt.to(self.p.device, self.p.dtype)
        self.negative = (negative if negative is not None else torch.zeros_like(prompt)).to(self.p.device, self.p.dtype)
        self.report: dict = {}
        self.timing = {"analysis_s": 0.0, "render_s": 0.0, "frames": 0}
        self.path: list[np.ndarray] = []  # the DiT engine does not track a camera

    def replace(self, frames: Callable[[], Iterator[np.ndarray]], count: int, references: list[Reference],
                callback: Progress | None = None) -> Iterator[FrameLayers]:
        p = self.p
        padded = ((max(count, 1) - 1 + TEMPORAL_COMPRESSION - 1) // TEMPORAL_COMPRESSION) * TEMPORAL_COMPRESSION + 1
        t0 = time.perf_counter()
        with torch.no_grad():
            plate = self._encode_all(frames, count, padded)
            refs = [(latent_frame(r.anchor), next(encode_frames(self.vae, [_to_model([r.image], p.device, p.dtype)],
                                                                p.tile, p.tile_overlap)))
                    for r in sorted(references, key=lambda r: r.anchor)]
            g = torch.Generator(device="cpu").manual_seed(p.seed)
            noise = torch.randn(plate.shape, generator=g, dtype=torch.float32).to(p.device, p.dtype)
            zero = torch.zeros(1, device=p.device, dtype=p.dtype)

            def window_model(lat, span, t):
                s, e = span
                n = e - s
                inside = [(a, z) for a, z in refs if s <= a < e]
                if not inside and refs:  # the nearest anchor still says what the place looks like
                    inside = [min(refs, key=lambda r: min(abs(r[0] - s), abs(r[0] - (e - 1))))]
                segments = [Segment(lat, list(range(n)), t.to(p.dtype), predict=True),
                            Segment(plate[:, :, s:e], list(range(n)), zero)]
                segments += [Segment(z, [min(max(a - s, 0), n - 1)], zero) for a, z in inside]
                cond = in_context_forward(self.model, segments, self.prompt)[0]
                if p.guidance == 1.0:
                    return cond
                uncond = in_context_forward(self.model, segments, self.negative)[0]
                return uncond + p.guidance * (cond - uncond)

            def on_step(info):
                if callback:
                    callback({"stage": "sample", "frame": info["step"], "total": info["total"]})

            latents = sample(window_model, self.scheduler, noise, p.steps, p.window, p.overlap, on_step)
            self.report.update(engine="dit", steps=p.steps, guidance=p.guidance, seed=p.seed,
                               windows=len(plan_windows(int(latents.shape[2]), p.window, p.overlap)),
                               latent_frames=int(latents.shape[2]), padded_frames=padded,
                               references=[{"anchor_latent": a} for a, _ in refs])
            self.timing["analysis_s"] += time.perf_counter() - t0
            done = 0
            keyed = _Foreground(frames(), self.key_params) if p.keep_foreground else None
            t0 = time.perf_counter()
            for pixels in decode_frames(self.vae, denormalise(self.vae, latents), p.tile, p.tile_overlap):
                for img in _to_linear(pixels):
                    if done >= count:
                        break
                    layers = keyed.over(img) if keyed else FrameLayers(img, img, img, np.ones(img.shape[:2], np.float32))
                    self.timing["render_s"] += time.perf_counter() - t0
                    self.timing["frames"] += 1
                    if callback:
                        callback({"stage": "render", "frame": done, "total": count})
                    yield layers
                    t0 = time.perf_counter()
                    done += 1
        self.path = [np.eye(3) for _ in range(count)]
        self.report["timing"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in self.timing.items()}

    def _encode_all(self, frames, count: int, padded: int) -> torch.Tensor:
        """The plate's latents (1, z, F, h, w), encoded in causal chunks as frames arrive
        (padded to 4k+1 frames by repeating the last)."""
        def chunks():
            it = iter(frames())
            buf, last = [], None
            for i in range(padded):
                img = next(it, None) if i < count else None
                last = img if img is not None else last
                if last is None:
                    raise EngineInputError("the shot has no frames")
                buf.append(last)
                if len(buf) == (1 if i == 0 else TEMPORAL_COMPRESSION):
                    yield _to_model(buf, self.p.device, self.p.dtype)
                    buf = []

        return torch.cat(list(encode_frames(self.vae, chunks(), self.p.tile, self.p.tile_overlap)), 2)


class _Foreground:
    """``--keep-foreground``: the plate keyed by the classic keyer, composited over each
    generated frame. The generated frame's relighting of the subject is carried over as a
    smooth per-channel gain (heavily blurred generated / keyed foreground inside the matte),
    so the subject stays pixel-exact in identity and detail but takes the new light."""

    def __init__(self, frames: Iterator[np.ndarray], key_params):
        from engine.classic.keyer import Keyer, KeyParams

        self._frames = iter(frames)
        self._keyer = Keyer(key_params or KeyParams())
        self._first = True

    def over(self, generated: np.ndarray) -> FrameLayers:
        import cv2

        from engine.classic.screen import detect_screen

        img = next(self._frames)[..., :3]
        if self._keyer.screen is None:
            self._keyer.screen = detect_screen(img)
            if self._keyer.screen is None:
                raise EngineInputError("--keep-foreground: no green or blue screen found to key the subject")
        res = self._keyer.key(img)
        a = res.alpha[..., None]
        sigma = 0.05 * max(img.shape[:2])
        wsum = cv2.GaussianBlur(res.alpha, (0, 0), sigma)[..., None] + 1e-4
        gen_fg = cv2.GaussianBlur(generated * a, (0, 0), sigma) / wsum
        key_fg = cv2.GaussianBlur(res.fg * a, (0, 0), sigma) / wsum
        gain = np.clip(gen_fg / np.maximum(key_fg, 1e-4), 0.25, 4.0).astype(np.float32)
        relit = (res.fg * gain).astype(np.float32)
        comp = (relit * a + generated * (1.0 - a)).astype(np.float32)
        return FrameLayers(comp, relit, generated, res.alpha)
