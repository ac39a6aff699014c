"""Background plates from reference stills: registration, stitching and per-frame rendering.

Each reference is the new background as the camera sees it at its anchor frame. The
references are registered to the first one (SIFT matches, MAGSAC homography, refined by
KLT on the inliers), which places every still in one stitched plate in the first anchor's
coordinates, so a camera move that reveals more than one still shows is covered. Every
frame is then rendered from the camera path: each still is warped into the frame and the
stills are blended by temporal distance to their anchors (weight 1 at its own anchor,
falling linearly to the next), with a small weight for every other still so uncovered
areas are filled by whichever still covers them. The shutter is simulated by averaging
the rendered plate over sub-frame camera positions, so the background carries the same
motion blur as the shot.

Images are float32 (H, W, 3) scene-linear Rec.709; homographies float64 3x3 (see
:mod:`engine.classic.camera`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.classic import camera
from engine.key.screen import fill_holes
from engine.optical_flow import to_gray8

_FEATHER = 0.01  # fraction of the still's larger side over which its weight fades at its borders
_FLOOR = 1e-6  # weight of a still's replicated border beyond its edge: fills holes, never wins
_OTHERS = 1e-2  # temporal weight of stills other than the two bracketing the frame
MOSAIC_MAX_AREA = 4  # stitched plates up to this many frames in area are built once, up front


@dataclass
class Registration:
    """``ref_to_first``: ref pixel -> first ref pixel, per ref. ``inliers``/``residual_px`` per ref
    (the first ref's are its own: all points, 0 px)."""

    ref_to_first: list[np.ndarray]
    inliers: list[int]
    residual_px: list[float]
    ok: list[bool]


def _register_pair(a: np.ndarray, b: np.ndarray, sift) -> tuple[np.ndarray | None, int, float]:
    """Homography mapping image ``a`` pixels to image ``b`` pixels, its inlier count and residual."""
    ga, gb = to_gray8(a), to_gray8(b)
    ka, da = sift.detectAndCompute(ga, None)
    kb, db = sift.detectAndCompute(gb, None)
    if da is None or db is None or len(ka) < 8 or len(kb) < 8:
        return None, 0, float("nan")
    pairs = cv2.BFMatcher().knnMatch(da, db, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < 12:
        return None, len(good), float("nan")
    pa = np.float32([ka[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
    pb = np.float32([kb[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
    h, inl = cv2.findHomography(pa, pb, cv2.USAC_MAGSAC, 1.5)
    if h is None or inl is None or inl.sum() < 12:
        return None, int(0 if inl is None else inl.sum()), float("nan")
    pa = pa[inl.ravel() > 0]
    # KLT refinement: sub-pixel correspondences for the SIFT inliers, then a tight fit
    guess = cv2.perspectiveTransform(pa.astype(np.float64), h).astype(np.float32)
    cur, st, _ = cv2.calcOpticalFlowPyrLK(ga, gb, pa, guess.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
                                          winSize=(21, 21), maxLevel=2)
    ok = st.ravel() == 1
    if ok.sum() >= 12:
        h2, inl2 = cv2.findHomography(pa[ok], cur[ok], cv2.USAC_MAGSAC, 0.75)
        if h2 is not None and inl2 is not None and inl2.sum() >= 12:
            h, pa, pb_fit = h2, pa[ok][inl2.ravel() > 0], cur[ok][inl2.ravel() > 0]
        else:
            pb_fit = cv2.perspectiveTransform(pa.astype(np.float64), h).astype(np.float32)
    else:
        pb_fit = cv2.perspectiveTransform(pa.astype(np.float64), h).astype(np.float32)
    proj = cv2.perspectiveTransform(pa.astype(np.float64), h)
    resid = float(np.linalg.norm((proj - pb_fit).reshape(-1, 2), axis=1).mean())
    return camera.normalised(h), len(pa), resid


def register_references(images: list[np.ndarray], max_side: int = 1920) -> Registration:
    """Register every still to the first (see the module notes). A still that cannot be
    registered (too few matches) gets the identity and ``ok`` False: it is then assumed to
    show the first still's view."""
    sift = cv2.SIFT_create(2000)
    out = Registration([np.eye(3)], [0], [0.0], [True])
    if not images:
        return out
    scale = min(1.0, max_side / max(images[0].shape[:2]))
    s = np.diag([scale, scale, 1.0])

    def small(img):
        return img if scale == 1.0 else cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

    first = small(images[0])
    for img in images[1:]:
        h, n, resid = _register_pair(small(img), first, sift)
        if h is None:
            out.ref_to_first.append(np.eye(3))
            out.ok.append(False)
        else:
            out.ref_to_first.append(camera.normalised(np.linalg.inv(s) @ h @ s))
            out.ok.append(True)
        out.inliers.append(n)
        out.residual_px.append(resid / scale if np.isfinite(resid) else resid)
    return out


def temporal_weights(anchors: list[int], t: float) -> np.ndarray:
    """Weight of each still at frame ``t``: linear between the two anchors bracketing ``t``
    (1 at an anchor), held beyond the first and last, ``_OTHERS`` for the rest."""
    order = np.argsort(anchors)
    a = np.asarray(anchors, np.float64)[order]
    w = np.full(len(a), _OTHERS)
    if t <= a[0]:
        w[0] = 1.0
    elif t >= a[-1]:
        w[-1] = 1.0
    else:
        k = int(np.searchsorted(a, t, side="right")) - 1
        f = (t - a[k]) / (a[k + 1] - a[k])
        w[k], w[k + 1] = max(1.0 - f, _OTHERS), max(f, _OTHERS)
    out = np.empty_like(w)
    out[order] = w
    return out


def _with_feather(img: np.ndarray) -> np.ndarray:
    """RGBA float32: colour premultiplied by a border-feathered weight in A."""
    h, w = img.shape[:2]
    ramp = max(2.0, _FEATHER * max(h, w))
    # 0 on the outermost pixels, which BORDER_REPLICATE carries beyond the edge: there only
    # _FLOOR remains
    y = np.minimum(np.arange(h), h - 1 - np.arange(h)) / ramp
    x = np.minimum(np.arange(w), w - 1 - np.arange(w)) / ramp
    m = np.clip(np.minimum(y[:, None], x[None, :]), 0.0, 1.0)
    m = np.maximum(m * m * (3 - 2 * m), _FLOOR).astype(np.float32)  # smoothstep
    return np.ascontiguousarray(np.concatenate([img[..., :3] * m[..., None], m[..., None]], axis=-1), np.float32)


@dataclass
class PlateParams:
    shutter: float = 0.5  # fraction of a frame the shutter is open (180 degrees = 0.5); 0 = no motion blur
    parallax: float = 1.0  # 1: background glued to the screen plane; 0: at infinity (rotation only)
    focal_px: float | None = None  # for parallax < 1; default: a normal lens
    defocus_px: float = 0.0  # Gaussian blur (sigma, px of the frame) of the background
    blur_spacing: float = 1.0 / 300  # distance the background travels between shutter samples, in frame heights


class BackgroundRenderer:
    """Renders the background of every frame from the stills and the camera path.

    ``stills``: float32 (h, w, 3) linear images, each anchored at frame ``anchors[i]``;
    ``ref_to_frame0[i]`` maps still-i pixels to frame-0 pixels; ``path`` is the camera
    (frame t -> frame 0) for every frame; ``size`` the frame's (width, height).
    """

    def __init__(self, stills: list[np.ndarray], anchors: list[int], ref_to_frame0: list[np.ndarray],
                 path: list[np.ndarray], size: tuple[int, int], params: PlateParams | None = None):
        self.p = params or PlateParams()
        self.anchors = list(anchors)
        self.path = [camera.normalised(h) for h in path]
        self.size = size
        self._rgba = [_with_feather(s) for s in stills]  # weighted blending where stills end
        self._frame0_to_ref = [np.linalg.inv(camera.normalised(h)) for h in ref_to_frame0]
        w, h = size
        self._focal = self.p.focal_px or camera.default_focal_px(w, h)
        self._centre = ((w - 1) / 2.0, (h - 1) / 2.0)
        self._mosaics, self._mosaic_origin = self._build_mosaics(stills, ref_to_frame0)
        self._plain: list[np.ndarray] = []
        if self._mosaics is not None:  # the per-frame stills are no longer needed
            self._rgba = []
        else:  # each frame is built from the stills: keep them also unfeathered, A = 1
            self._plain = [np.ascontiguousarray(cv2.cvtColor(np.ascontiguousarray(s[..., :3], np.float32),
                                                             cv2.COLOR_RGB2RGBA)) for s in stills]

    def _build_mosaics(self, stills: list[np.ndarray], ref_to_frame0: list[np.ndarray]):
        """Per still, the stitched plate in that still's own pixel grid, extended to take in
        every other still: inside the still its pixels exactly (no resampling), beyond it
        the others blended, holes filled. A frame between two anchors is then a mix of two
        warped mosaics. None when the stills spread too far (over ``MOSAIC_MAX_AREA``
        frames): each frame is then built from the stills themselves."""
        w, h = self.size
        mosaics = []
        for k, own in enumerate(stills):
            kh, kw = own.shape[:2]
            to_k = [self._frame0_to_ref[k] @ camera.normalised(m) for m in ref_to_frame0]  # still i px -> still k px
            pts = []
            for s, m in zip(stills, to_k):
                sh, sw = s.shape[:2]
                c = np.array([[[0, 0]], [[sw - 1, 0]], [[sw - 1, sh - 1]], [[0, sh - 1]]], np.float64)
                pts.append(cv2.perspectiveTransform(c, m).reshape(-1, 2))
            pts = np.concatenate(pts)
            if not np.isfinite(pts).all():
                return None, None
            x0, y0 = np.minimum(np.floor(pts.min(axis=0)) - 2, 0).astype(int)
            x1, y1 = np.maximum(np.ceil(pts.max(axis=0)) + 2, [kw - 1, kh - 1]).astype(int)
            mw, mh = int(x1 - x0) + 1, int(y1 - y0) + 1
            if mw * mh > MOSAIC_MAX_AREA * w * h:
                return None, None
            origin = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1.0]])  # still-k px -> mosaic px
            acc = np.zeros((mh, mw, 4), np.float32)
            gaps = [abs(self.anchors[i] - self.anchors[k]) for i in range(len(stills)) if i != k]
            for i in range(len(stills)):
                if i != k:  # the stills nearest in time fill first
                    near = ((1.0 + min(gaps)) / (1.0 + abs(self.anchors[i] - self.anchors[k]))) ** 4.0
                    acc = cv2.scaleAdd(cv2.warpPerspective(self._rgba[i], origin @ to_k[i], (mw, mh),
                                                           flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                                                           borderValue=(0, 0, 0, 0)), near, acc)
            weight = np.ascontiguousarray(acc[..., 3])
            inv = cv2.divide(1.0, cv2.max(weight, 1e-12))
            fill = cv2.multiply(acc, cv2.merge([inv, inv, inv, inv]))
            known = (weight >= 1e-12).astype(np.uint8)
            # the still itself, exactly, faded into the others over its feathered border where
            # they show something, kept whole where they do not
            ox, oy = -x0, -y0
            region = fill[oy:oy + kh, ox:ox + kw]
            a = np.where(known[oy:oy + kh, ox:ox + kw, None] > 0, self._rgba[k][..., 3:4], 1.0).astype(np.float32)
            region[..., :3] = own[..., :3] * a + (1.0 - a) * region[..., :3]
            known[oy:oy + kh, ox:ox + kw] = 1
            if cv2.countNonZero(known) < known.size:
                fill = _extend(fill, known)
            fill[..., 3] = 1.0
            mosaics.append((fill, origin))
        return [m for m, _ in mosaics], [o for _, o in mosaics]

    def _sharp_mosaic(self, t: int, out_size: tuple[int, int], margin: int) -> np.ndarray:
        """:meth:`_sharp` from the mosaics: the bracketing stills' mosaics, warped and mixed."""
        weights = temporal_weights(self.anchors, t)
        offset = np.array([[1, 0, -margin], [0, 1, -margin], [0, 0, 1.0]])  # canvas px -> frame px
        cam = self.path[t] @ offset
        out, w_out = None, 0.0
        for i in (i for i in range(len(weights)) if weights[i] > _OTHERS):
            to_mosaic = self._mosaic_origin[i] @ self._frame_to_ref(i, cam)
            warped = cv2.warpPerspective(self._mosaics[i], to_mosaic, out_size,
                                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
            w_i = float(weights[i])
            if out is None:
                out, w_out = warped, w_i
            else:
                out, w_out = cv2.addWeighted(out, w_out / (w_out + w_i), warped, w_i / (w_out + w_i), 0.0), w_out + w_i
        return out

    def _frame_to_ref(self, i: int, cam: np.ndarray) -> np.ndarray:
        m = self._frame0_to_ref[i] @ cam
        return camera.with_parallax(m, self.p.parallax, self._focal, self._centre)

    def _covers(self, i: int, m: np.ndarray, region: tuple[int, int, int, int]) -> bool:
        """Does still ``i`` (past its feathered border) cover the canvas ``region`` (x0, y0, x1,
        y1, inclusive) under ``m``?"""
        x0, y0, x1, y1 = region
        c = np.array([[[x0, y0]], [[x1, y0]], [[x1, y1]], [[x0, y1]]], np.float64)
        p = cv2.perspectiveTransform(c, m).reshape(-1, 2)
        rh, rw = self._rgba[i].shape[:2]
        margin = max(2.0, _FEATHER * max(rh, rw)) + 1
        return bool(((p[:, 0] >= margin) & (p[:, 0] <= rw - 1 - margin) &
                     (p[:, 1] >= margin) & (p[:, 1] <= rh - 1 - margin)).all())

    def _sharp(self, t: int, out_size: tuple[int, int], margin: int = 0) -> np.ndarray:
        """Unblurred background of frame ``t`` on a canvas ``margin`` px larger than the frame
        on every side: float32 (h, w, 4), colour in RGB and 1 in A."""
        if self._mosaics is not None:
            return self._sharp_mosaic(t, out_size, margin)
        weights = temporal_weights(self.anchors, t)
        offset = np.array([[1, 0, -margin], [0, 1, -margin], [0, 0, 1.0]])  # canvas px -> frame px
        cam = self.path[t] @ offset
        maps = [self._frame_to_ref(i, cam) for i in range(len(self._rgba))]
        primary = [i for i in range(len(weights)) if weights[i] > _OTHERS]
        canvas = (0, 0, out_size[0] - 1, out_size[1] - 1)
        frame = (margin, margin, out_size[0] - 1 - margin, out_size[1] - 1 - margin)
        if all(self._covers(i, maps[i], frame) for i in primary):
            # the common case: the bracketing stills show the whole frame, so a plain weighted
            # sum does (the blur margin around the frame repeats their edges)
            total = float(sum(weights[i] for i in primary))
            out, w_out = None, 0.0
            for i in primary:
                warped = cv2.warpPerspective(self._plain[i], maps[i], out_size,
                                             flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                             borderMode=cv2.BORDER_REPLICATE)
                w_i = float(weights[i]) / total
                if out is None:
                    out, w_out = warped, w_i
                else:
                    out, w_out = cv2.addWeighted(out, w_out / (w_out + w_i), warped, w_i / (w_out + w_i), 0.0), w_out + w_i
            return out
        # the other stills only fill what the bracketing ones do not show: skip them when one of
        # those covers the frame
        use = primary if any(self._covers(i, maps[i], frame) for i in primary) else list(range(len(weights)))
        acc = None
        for i in use:
            warped = cv2.warpPerspective(self._rgba[i], maps[i], out_size,
                                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
            acc = cv2.multiply(warped, (float(weights[i]),) * 4) if acc is None else \
                cv2.scaleAdd(warped, float(weights[i]), acc)
        total = float(sum(weights[i] for i in use))
        if all(self._covers(i, maps[i], canvas) for i in use):  # the weights sum to ``total`` everywhere
            return cv2.multiply(acc, (1.0 / total,) * 4)
        weight = np.ascontiguousarray(acc[..., 3])
        inv = cv2.divide(1.0, cv2.max(weight, 1e-12))
        out = cv2.multiply(acc, cv2.merge([inv, inv, inv, inv]))
        known = (weight >= 1e-12).astype(np.uint8)  # a still's feathered edge still counts
        if cv2.countNonZero(known) == known.size:
            return out
        # beyond every still: the nearest shown pixels, repeated outwards
        x0, y0, x1, y1 = frame
        if cv2.countNonZero(known[y0:y1 + 1, x0:x1 + 1]) == (y1 - y0 + 1) * (x1 - x0 + 1):
            # only the blur margin: the frame's own edge repeated is all it needs
            base = cv2.copyMakeBorder(np.ascontiguousarray(out[y0:y1 + 1, x0:x1 + 1]), margin, margin, margin,
                                      margin, cv2.BORDER_REPLICATE)
            cv2.copyTo(out, known, base)
            return base
        return _extend(out, known)  # a camera move that leaves every still

    def render(self, t: int) -> np.ndarray:
        """Background of frame ``t``: float32 (H, W, 3) linear, motion-blurred like the shot
        (the plate averaged over camera positions from shutter open to shutter close)."""
        w, h = self.size
        offsets = camera.shutter_offsets(self.path, t, self.p.shutter, w, h, max(1.0, self.p.blur_spacing * h))
        if len(offsets) == 1:
            bg = self._sharp(t, (w, h))
        else:
            here_inv = np.linalg.inv(self.path[t])
            subs = [here_inv @ camera.at_time(self.path, t + s) for s in offsets]  # frame px at t+s -> at t
            margin = int(np.ceil(max(camera.corner_motion_px(m, w, h) for m in subs))) + 2
            canvas = self._sharp(t, (w + 2 * margin, h + 2 * margin), margin)
            shift = np.array([[1, 0, margin], [0, 1, margin], [0, 0, 1.0]])  # frame px -> canvas px
            bg = None
            for m in subs:  # RGBA warps: four channels run faster than three
                warped = cv2.warpPerspective(canvas, shift @ m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                             borderMode=cv2.BORDER_REPLICATE)
                bg = warped if bg is None else cv2.add(bg, warped, dst=bg)
            bg = cv2.multiply(bg, (1.0 / len(subs),) * 4)
        bg = cv2.cvtColor(bg, cv2.COLOR_RGBA2RGB)
        if self.p.defocus_px > 0:
            bg = cv2.GaussianBlur(bg, (0, 0), self.p.defocus_px)
        return bg


def _extend(img: np.ndarray, known: np.ndarray, factor: int = 4) -> np.ndarray:
    """Fill pixels where ``known`` (uint8) is 0 from the known ones around them: a push-pull
    fill at 1/``factor`` resolution (what no still shows can only be guessed smoothly), worked
    on the holes' bounding box and a band of known pixels around it."""
    h, w = known.shape
    x, y, bw, bh = cv2.boundingRect(np.where(known == 0, 255, 0).astype(np.uint8))
    pad = max(16, (bw + bh) // 4)
    x0, y0, x1, y1 = max(0, x - pad), max(0, y - pad), min(w, x + bw + pad), min(h, y + bh + pad)
    roi, roi_known = img[y0:y1, x0:x1], known[y0:y1, x0:x1]
    size = (max(1, (x1 - x0) // factor), max(1, (y1 - y0) // factor))
    small = cv2.resize(roi, size, interpolation=cv2.INTER_AREA)
    small_known = cv2.resize(roi_known.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.99
    if not small_known.any():
        return img
    filled = cv2.resize(fill_holes(small, small_known), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    cv2.copyTo(np.ascontiguousarray(roi), roi_known, filled)
    img[y0:y1, x0:x1] = filled
    return img
