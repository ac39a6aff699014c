"""Synthetic scenes for the plate, harmonise and replace-engine tests (imported by them; not a test module).

All images are float32 scene-linear Rec.709. Homographies are float64 3x3 mapping a view's
pixels (x, y, 1) to the pixels of the larger "world" image it is cut from, or frame-t pixels
to frame-0 pixels for camera paths, as in :mod:`engine.classic.camera`.
"""
import cv2
import numpy as np


def shift(dx, dy):
    """Translation homography."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def texture(h, w, seed=0):
    """(h, w, 3) colourful, feature-rich linear image: smoothed noise at two scales plus random
    rectangles and discs, so SIFT and KLT have corners to hold on to everywhere."""
    rng = np.random.default_rng(seed)
    fine = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
    fine = (fine - fine.mean()) / fine.std()
    coarse = cv2.resize(rng.random((h // 16 + 2, w // 16 + 2, 3)).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_CUBIC)
    img = np.clip(0.1 + 0.4 * np.clip(coarse, 0, 1) + 0.06 * fine[..., None], 0.02, None)
    for _ in range(h * w // 800):
        colour = tuple(float(c) for c in 0.05 + 0.8 * rng.random(3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(4, 24)), y + int(rng.integers(4, 24))), colour, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(3, 12)), colour, -1)
    return np.ascontiguousarray(img, np.float32)


def view(world, view_to_world, size):
    """The (size[1], size[0], 3) view of ``world`` whose pixel p sits at world pixel ``view_to_world @ p``."""
    return cv2.warpPerspective(world, np.asarray(view_to_world, np.float64), size,
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)


def green_screen(h, w, seed=0, spacing=40):
    """(h, w, 3) green screen with a fine weave-like texture and dark marker dots every ``spacing`` px."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
    img = np.stack([0.05 + 0.03 * tex, 0.36 + 0.14 * tex, 0.08 + 0.03 * tex], -1).astype(np.float32)
    for y in range(spacing // 2, h, spacing):
        for x in range(spacing // 2 + (y // spacing % 2) * spacing // 2, w, spacing):
            cv2.circle(img, (x, y), 3, (0.02, 0.04, 0.02), -1)
    return img


def panning_path(n, dx=2.5, dy=1.0, deg=0.15, zoom=0.003):
    """Frame-t -> frame-0 homographies of a camera panning, rolling and zooming a little each frame."""
    out = []
    for t in range(n):
        a, s = np.deg2rad(deg * t), 1.0 + zoom * t
        out.append(np.array([[s * np.cos(a), -s * np.sin(a), dx * t],
                             [s * np.sin(a), s * np.cos(a), dy * t],
                             [0.0, 0.0, 1.0]]))
    return out


def blob_alpha(h, w, cx=0.5, cy=0.6, r=0.2, edge_px=2.0):
    """(h, w) float32 soft-edged disc: the foreground subject, fixed in the frame."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(x - cx * w, y - cy * h)
    return np.clip((r * min(h, w) - d) / edge_px + 0.5, 0.0, 1.0).astype(np.float32)


class Shot:
    """A green-screen shot of a fixed grey subject in front of a screen seen by a moving camera,
    and the new background (a textured world) as the same camera sees it at chosen anchors.

    ``frames[t] = alpha * subject + (1 - alpha) * screen view`` plus a little noise;
    ``path`` is the true camera (frame t -> frame 0).
    """

    def __init__(self, n=9, size=(256, 144), path=None, seed=0, noise=0.003, subject=(0.55, 0.5, 0.45)):
        w, h = size
        self.size, self.n = size, n
        self.path = path if path is not None else panning_path(n)
        margin = 80
        screen = green_screen(h + 2 * margin, w + 2 * margin, seed)
        self.world = texture(h + 2 * margin, w + 2 * margin, seed + 1)
        self.to_world = shift(margin, margin)  # frame-0 pixel -> world pixel
        self.alpha = blob_alpha(h, w)
        rng = np.random.default_rng(seed + 2)
        a = self.alpha[..., None]
        self.frames = []
        for m in self.path:
            plate = view(screen, self.to_world @ m, size)
            img = a * np.asarray(subject, np.float32) + (1 - a) * plate
            self.frames.append((img + rng.normal(0.0, noise, img.shape)).astype(np.float32))

    def reference(self, anchor):
        """The new background as the camera sees it at frame ``anchor`` (glued to the screen plane)."""
        return view(self.world, self.to_world @ self.path[anchor], self.size)

    def opener(self):
        """A callable opening a fresh iterator over the frames, as engines want."""
        return lambda: iter(self.frames)
