"""Synthetic screen shots for the classic-engine tests (imported by them; not a test module).

All images are float32 scene-linear Rec.709: an uneven (vignetted) green or blue screen, a
neutral subject with a soft edge composited over it as I = a F + (1 - a) C, small dark
tracking-marker crosses and a little Gaussian sensor noise.
"""
import numpy as np

H, W = 120, 160
SCREEN_RGB = {"green": (0.06, 0.45, 0.10), "blue": (0.05, 0.12, 0.50)}
MARKER_RGB = (0.02, 0.05, 0.02)
MARKERS = [(20, 20), (140, 20), (20, 100), (140, 100)]  # (x, y) centres, well away from the subject


def uneven_screen(kind="green", vignette=0.25, h=H, w=W):
    """(h, w, 3) float32 screen, brightest in the middle and ``vignette`` darker in the corners."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((x - w / 2) / w) ** 2 + ((y - h / 2) / h) ** 2  # 0.5 in the corners
    light = 1.0 - vignette * r2 / 0.5
    return (np.array(SCREEN_RGB[kind], np.float32) * light[..., None]).astype(np.float32)


def subject_alpha(edge_px=3.0, h=H, w=W):
    """(h, w) float32: a solid disc (radius 0.22 w) with a linear soft edge ``edge_px`` wide."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(x - 0.5 * w, y - 0.55 * h)
    return np.clip((0.22 * w - d) / edge_px + 0.5, 0.0, 1.0).astype(np.float32)


def with_markers(img, points=MARKERS, colour=MARKER_RGB):
    """A copy of ``img`` with 13 px dark crosses (3 px arms) centred on ``points``."""
    out = img.copy()
    for x, y in points:
        out[y - 1:y + 2, x - 6:x + 7] = colour
        out[y - 6:y + 7, x - 1:x + 2] = colour
    return out


def composite(alpha, background, fg=(0.5, 0.5, 0.5), noise=0.004, seed=0):
    """I = a F + (1 - a) C plus Gaussian noise, float32 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    a = alpha[..., None]
    img = a * np.array(fg, np.float32) + (1 - a) * background
    return (img + rng.normal(0.0, noise, img.shape)).astype(np.float32)


def natural_image():
    """A warm grey/brown gradient, like a wall or a floor: no screen anywhere."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.stack([0.25 + 0.3 * x / W, 0.2 + 0.2 * x / W, 0.12 + 0.1 * y / H], -1).astype(np.float32)
