"""Matte and composite quality metrics, in agreement with the bench's ``score.py``.

Alpha metrics follow Rhemann et al. (alphamatting.com) with the bench's scaling: SAD/1000,
MSE×1e3, Grad/1000 (Gaussian-derivative gradient, sigma 1.4), Conn/1000, and dtSSD×1e2
for temporal coherence. Composite metrics are MSE, PSNR and SSIM on BT.709-encoded
display values in [0, 1], plus PSNR restricted to the solid foreground (gt alpha > 0.98)
and the pure background (gt alpha < 0.02).

Every function takes float32 numpy arrays. Alphas are (H, W) in [0, 1]; colour frames are
(H, W, 3) display-encoded BT.709. Predictions are clipped to [0, 1] before scoring, as
``score.py`` does; ground truth is used as given. Frame scores are averaged exactly the way
``score.py`` averages them (PSNR from the mean MSE, not the mean of per-frame PSNRs).

The reference builds on ``scipy.ndimage`` and ``skimage``; here the same maths runs on
OpenCV's separable and box filters (several times faster), agreeing to about 1e-6
relative. Only the ``Conn`` labelling needs care to be exact; see ``connectivity_error``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage

GRAD_SIGMA = 1.4  # pixels, Rhemann et al.
_GRAD_TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default support, in sigmas
CONN_STEP = 0.1  # alpha threshold step of the connectivity error
SSIM_WIN = 7  # skimage structural_similarity defaults: 7x7 uniform window,
SSIM_K1, SSIM_K2 = 0.01, 0.03  # K1, K2, sample covariance, data_range 1
FG_ALPHA, BG_ALPHA = 0.98, 0.02  # gt alpha bounds of the solid fg / pure bg regions
PSNR_FLOOR_MSE = 1e-10  # identical images score 100 dB instead of infinity


# --------------------------------------------------------------------------- alpha


def _f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def _check_same_shape(pred: np.ndarray, gt: np.ndarray, what: str) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"{what} size {pred.shape} != ground truth {gt.shape}")


def gaussian_kernel1d(sigma: float, order: int, radius: int) -> np.ndarray:
    """Sampled Gaussian (order 0) or its first derivative (order 1), float64 (2*radius+1,).

    The same normalisation as ``scipy.ndimage.gaussian_filter``: the order-0 kernel sums
    to 1 and the derivative is that kernel times ``-x / sigma**2``. Indexed for
    convolution (centre at ``radius``, x from -radius to radius).
    """
    if order not in (0, 1):
        raise ValueError("only orders 0 and 1 are needed here")
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    phi /= phi.sum()
    return phi if order == 0 else (-x / (sigma * sigma)) * phi


def gradient_magnitude(alpha: np.ndarray, sigma: float = GRAD_SIGMA) -> np.ndarray:
    """|∇alpha| from Gaussian-derivative filters, float32 (H, W), units alpha per pixel.

    Equals ``hypot(gaussian_filter(a, sigma, order=(0, 1)), gaussian_filter(a, sigma,
    order=(1, 0)))`` with scipy's defaults (reflect border, truncate 4).
    """
    a = _f32(alpha)
    radius = int(_GRAD_TRUNCATE * sigma + 0.5)
    if min(a.shape) <= radius:
        # OpenCV's reflect border is only defined for one reflection; scipy's repeats
        gx = ndimage.gaussian_filter(a, sigma, order=(0, 1))
        gy = ndimage.gaussian_filter(a, sigma, order=(1, 0))
        return np.hypot(gx, gy)
    smooth = gaussian_kernel1d(sigma, 0, radius)
    # filter2D correlates; reversing makes it the convolution scipy performs. The sign
    # vanishes in the magnitude, but keeping it makes gx/gy themselves comparable.
    deriv = gaussian_kernel1d(sigma, 1, radius)[::-1].copy()
    border = cv2.BORDER_REFLECT  # scipy "reflect": d c b a | a b c d
    gx = cv2.sepFilter2D(a, cv2.CV_32F, deriv, smooth, borderType=border)
    gy = cv2.sepFilter2D(a, cv2.CV_32F, smooth, deriv, borderType=border)
    # np.hypot, not cv2.magnitude: the latter rounds differently depending on the output
    # buffer's alignment, so identical mattes would not score exactly 0
    return np.hypot(gx, gy)


def _largest_component(mask: np.ndarray) -> np.ndarray | None:
    """The biggest 8-connected region of ``mask`` as a bool (H, W), or None if empty.

    Size ties go to the region whose first pixel comes first in raster order, which is
    the one ``scipy.ndimage.label`` numbers lowest and ``argmax`` picks in ``score.py``.
    OpenCV numbers regions in its own order, so ties are resolved explicitly.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    if n <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    tied = np.flatnonzero(areas == areas.max()) + 1
    if len(tied) == 1:
        best = tied[0]
    else:
        # a region's first raster pixel lies in its top row
        def first_pixel(lab: int) -> tuple[int, int]:
            top = stats[lab, cv2.CC_STAT_TOP]
            return top, int(np.argmax(labels[top] == lab))
        best = min(tied, key=first_pixel)
    return labels == best


def connectivity_error(pred: np.ndarray, gt: np.ndarray, step: float = CONN_STEP) -> float:
    """Rhemann et al.'s connectivity error, unscaled (divide by 1000 for ``Conn``).

    ``pred`` and ``gt`` are float32 (H, W) alphas in [0, 1]. For each threshold t in
    step, 2*step, ..., 1, pixels not yet assigned and outside the largest 8-connected
    region of ``pred >= t & gt >= t`` get level ``t - step``; the rest get 1. The score is
    the summed |phi(pred) - phi(gt)| with phi(x) = 1 - d*(d >= 0.15), d = x - level.
    Bit-for-bit the algorithm of ``score.py`` (same float64 thresholds, same tie-break).
    """
    pred, gt = _f32(pred), _f32(gt)
    _check_same_shape(pred, gt, "alpha")
    thresholds = np.arange(0, 1 + step, step)  # float64, the reference's exact values
    level = np.ones(pred.shape, dtype=np.float64)
    unset = np.ones(pred.shape, dtype=bool)
    mask = np.empty(pred.shape, dtype=bool)
    for t in thresholds[1:]:
        np.greater_equal(pred, t, out=mask)
        mask &= gt >= t
        big = _largest_component(mask)
        if big is None:
            # the masks shrink as t rises, so every later threshold is empty too
            break
        newly = unset & ~big
        level[newly] = t - step
        unset &= big
    dp = pred - level
    dg = gt - level
    phi_p = 1 - dp * (dp >= 0.15)
    phi_g = 1 - dg * (dg >= 0.15)
    return float(np.abs(phi_p - phi_g).sum())


def alpha_frame_errors(pred: np.ndarray, gt: np.ndarray, with_conn: bool = True) -> dict[str, float]:
    """One frame's alpha errors: ``SAD``, ``MSE``, ``Grad`` and (if asked) ``Conn``.

    ``pred`` and ``gt`` are float32 (H, W) alphas; ``pred`` is clipped to [0, 1].
    SAD = sum|d| / 1000, MSE = mean(d²) × 1e3, Grad = sum((|∇pred| - |∇gt|)²) / 1000,
    Conn = connectivity error / 1000, with d = pred - gt.
    """
    p = np.clip(_f32(pred), 0, 1)
    g = _f32(gt)
    _check_same_shape(p, g, "alpha")
    d = p - g
    out = {
        "SAD": float(np.abs(d).sum(dtype=np.float64)) / 1000,
        "MSE": float(np.square(d).mean(dtype=np.float64)) * 1e3,
        "Grad": float(np.square(gradient_magnitude(p) - gradient_magnitude(g)).sum(dtype=np.float64)) / 1000,
    }
    if with_conn:
        out["Conn"] = connectivity_error(p, g) / 1000
    return out


def temporal_ssd(pred: np.ndarray, gt: np.ndarray, prev_pred: np.ndarray, prev_gt: np.ndarray) -> float:
    """dtSSD of one frame pair: sqrt(mean(((p - p_prev) - (g - g_prev))²)) × 1e2.

    All four are float32 (H, W) alphas, predictions already clipped. Zero when the
    prediction changes between frames exactly as the ground truth does.
    """
    diff = (pred - prev_pred) - (gt - prev_gt)
    return math.sqrt(float(np.square(diff).mean(dtype=np.float64))) * 1e2


class AlphaScorer:
    """Streams alpha frames and averages their errors over the shot.

    ``add`` one (pred, gt) pair per frame in order; only the previous pair is kept (for
    dtSSD), so memory does not grow with the shot. ``result`` gives ``SAD``, ``MSE``,
    ``Grad``, ``Conn`` (when ``with_conn``) averaged over frames, ``dtSSD`` averaged over
    consecutive frame pairs (0 for a single frame), and ``frames``.
    """

    def __init__(self, with_conn: bool = True):
        self.with_conn = with_conn
        self.frames = 0
        self._sums: dict[str, float] = {}
        self._dt: list[float] = []
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
        """Score one frame (float32 (H, W) alphas) and return its own errors."""
        p = np.clip(_f32(pred), 0, 1)
        g = np.array(gt, dtype=np.float32)  # a copy: the caller may reuse its buffer
        errs = alpha_frame_errors(p, g, self.with_conn)
        for k, v in errs.items():
            self._sums[k] = self._sums.get(k, 0.0) + v
        if self._prev is not None:
            if self._prev[0].shape != p.shape:
                raise ValueError(f"alpha size changed from {self._prev[0].shape} to {p.shape}")
            errs["dtSSD"] = temporal_ssd(p, g, *self._prev)
            self._dt.append(errs["dtSSD"])
        self._prev = (p, g)
        self.frames += 1
        return errs

    def result(self) -> dict[str, float | int]:
        """Shot averages; raises ValueError before any frame was added."""
        if not self.frames:
            raise ValueError("no alpha frames were scored")
        out: dict[str, float | int] = {k: v / self.frames for k, v in self._sums.items()}
        out["dtSSD"] = float(np.mean(self._dt)) if self._dt else 0.0
        out["frames"] = self.frames
        return out


# --------------------------------------------------------------------------- composite


def psnr(mse: float) -> float:
    """PSNR in dB for signals in [0, 1]; the MSE is floored so identical images give 100."""
    return float(10 * np.log10(1 / max(mse, PSNR_FLOOR_MSE)))


def ssim_map(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-pixel structural similarity of two float32 (H, W) or (H, W, C) images, data range 1,
    the same shape as the input (7x7 uniform windows; values within 3 pixels of the border
    come from reflected windows and are left out by :func:`ssim`)."""
    x, y = _f32(pred), _f32(gt)
    _check_same_shape(x, y, "image")
    if min(x.shape[:2]) < SSIM_WIN:
        raise ValueError(f"SSIM needs images of at least {SSIM_WIN}x{SSIM_WIN} pixels")
    win = (SSIM_WIN, SSIM_WIN)

    def mean(img):
        return cv2.blur(img, win, borderType=cv2.BORDER_REFLECT)

    ux, uy = mean(x), mean(y)
    cov_norm = np.float32(SSIM_WIN**2 / (SSIM_WIN**2 - 1))  # sample covariance
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = np.float32(SSIM_K1**2), np.float32(SSIM_K2**2)
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean structural similarity of two float32 (H, W) or (H, W, C) images, data range 1.

    Matches ``skimage.metrics.structural_similarity(pred, gt, channel_axis=-1,
    data_range=1.0)`` with its defaults: 7x7 uniform window, K1 = 0.01, K2 = 0.03, sample
    covariance, the 3-pixel border excluded from the mean, channels averaged.
    """
    pad = (SSIM_WIN - 1) // 2
    s = ssim_map(pred, gt)[pad:-pad, pad:-pad]  # only windows wholly inside the image
    if s.ndim == 2:
        return float(s.mean(dtype=np.float64))
    # per-channel means (float64, like skimage), then their average
    return float(np.mean([s[..., c].mean(dtype=np.float64) for c in range(s.shape[-1])]))


class CompScorer:
    """Streams composite frames and averages their errors over the shot.

    ``add`` takes the predicted and ground-truth composites, float32 (H, W, 3)
    display-encoded BT.709 in [0, 1] (the prediction is clipped), and the float32 (H, W)
    ground-truth alpha that defines the solid-foreground (> 0.98) and pure-background
    (< 0.02) regions. Per-frame MSEs (channel-averaged squared error, mean over the
    region) are averaged over frames; a frame without such a region adds 0 to that
    region's sum, as in ``score.py``. PSNRs are taken of the averaged MSEs.
    """

    def __init__(self):
        self.frames = 0
        self._mse = self._fg = self._bg = self._ssim = 0.0

    def add(self, pred_rgb: np.ndarray, gt_rgb: np.ndarray, gt_alpha: np.ndarray) -> dict[str, float]:
        """Score one frame; returns its own ``comp_MSE``, ``fg_MSE``, ``bg_MSE``, ``comp_SSIM``."""
        p = np.clip(_f32(pred_rgb), 0, 1)
        g = _f32(gt_rgb)
        a = _f32(gt_alpha)
        _check_same_shape(p, g, "comp")
        if a.shape != g.shape[:2]:
            raise ValueError(f"gt alpha size {a.shape} != comp {g.shape[:2]}")
        d2 = np.square(p - g).mean(-1)
        fg, bg = a > FG_ALPHA, a < BG_ALPHA
        errs = {
            "comp_MSE": float(d2.mean(dtype=np.float64)),
            "fg_MSE": float(d2[fg].mean(dtype=np.float64)) if fg.any() else 0.0,
            "bg_MSE": float(d2[bg].mean(dtype=np.float64)) if bg.any() else 0.0,
            "comp_SSIM": ssim(p, g),
        }
        self._mse += errs["comp_MSE"]
        self._fg += errs["fg_MSE"]
        self._bg += errs["bg_MSE"]
        self._ssim += errs["comp_SSIM"]
        self.frames += 1
        return errs

    def result(self) -> dict[str, float | int]:
        """Shot averages; raises ValueError before any frame was added."""
        n = self.frames
        if not n:
            raise ValueError("no composite frames were scored")
        return {
            "comp_MSE": self._mse / n,
            "comp_PSNR": psnr(self._mse / n),
            "comp_SSIM": self._ssim / n,
            "fg_PSNR": psnr(self._fg / n),
            "bg_PSNR": psnr(self._bg / n),
            "frames": n,
        }
