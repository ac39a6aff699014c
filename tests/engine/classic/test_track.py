"""Camera tracking: per-frame homographies to frame 0 recovered from a textured screen."""
import cv2
import numpy as np

from engine.classic.track import ScreenTracker, corner_error

H, W = 180, 320


def textured_screen(seed=0, h=H + 120, w=W + 200):
    """A green screen with weave-like texture and marker crosses, larger than the frame."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
    img = np.stack([0.05 + 0.03 * tex, 0.35 + 0.15 * tex, 0.08 + 0.03 * tex], -1).astype(np.float32)
    for y in range(20, h, 45):
        for x in range(20, w, 50):
            img[y - 1:y + 2, x - 6:x + 7] = 0.02
            img[y - 6:y + 7, x - 1:x + 2] = 0.02
    return img


def camera_path(n):
    """Frame-t -> frame-0 homographies of a panning, slightly rotating and zooming camera."""
    out = []
    for t in range(n):
        a = np.deg2rad(0.3 * t)
        s = 1.0 + 0.004 * t
        out.append(np.array([[s * np.cos(a), -s * np.sin(a), 3.0 * t],
                             [s * np.sin(a), s * np.cos(a), 1.5 * t],
                             [1e-6 * t, 0.0, 1.0]]))
    return out


def render(world, h_t_to_0, offset=(60, 100)):
    """The frame a camera with ``h_t_to_0`` sees; frame 0 looks at ``world`` at ``offset``."""
    oy, ox = offset
    shift = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1.0]])
    return cv2.warpPerspective(world, shift @ h_t_to_0, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def test_a_moving_camera_is_recovered_within_a_fraction_of_a_pixel():
    world = textured_screen()
    path = camera_path(12)
    tracker = ScreenTracker()
    for h in path:
        tracker.add(render(world, h))
    assert corner_error(tracker.result.frame_to_frame0, path, W, H) < 0.3
    assert not tracker.result.static


def test_a_locked_off_camera_is_reported_static():
    world = textured_screen(1)
    rng = np.random.default_rng(2)
    tracker = ScreenTracker()
    frame = render(world, np.eye(3))
    for _ in range(5):
        tracker.add(frame + rng.normal(0, 0.002, frame.shape).astype(np.float32))
    assert tracker.result.static


def test_the_foreground_is_masked_out_of_the_track():
    """A subject moving against the camera must not drag the solve: its pixels are masked."""
    world = textured_screen(3)
    path = camera_path(8)
    tracker = ScreenTracker()
    for t, h in enumerate(path):
        frame = render(world, h)
        alpha = np.zeros((H, W), np.float32)
        x0 = 120 - 6 * t  # moves left while the camera pans right
        alpha[40:170, x0:x0 + 80] = 1.0
        frame[alpha > 0] = (0.5, 0.4, 0.3) + 0.2 * np.random.default_rng(t).random((int(alpha.sum()), 3))
        tracker.add(frame, alpha)
    assert corner_error(tracker.result.frame_to_frame0, path, W, H) < 0.5


def test_a_regular_marker_grid_does_not_make_a_fast_pan_slip_by_a_grid_period():
    """A flat screen whose only texture is a 40 px grid of crosses looks the same shifted by
    40 px: a fast, jerky pan must still be followed, not locked onto the neighbouring cross."""
    rng = np.random.default_rng(0)
    world = np.empty((H + 120, W + 700, 3), np.float32)
    world[:] = (0.06, 0.45, 0.10)
    for y in range(20, world.shape[0], 40):
        for x in range(20, world.shape[1], 40):
            world[y - 1:y + 2, x - 5:x + 6] = world[y - 5:y + 6, x - 1:x + 2] = (0.02, 0.05, 0.02)
    world += rng.normal(0, 0.003, world.shape).astype(np.float32)
    n = 24
    vx = np.concatenate([np.linspace(0, 30, n // 2), np.linspace(30, 0, n // 2)]) + rng.uniform(-5, 5, n)
    xs = 10 + np.cumsum(vx) - vx[0]
    ys = 60 + np.cumsum(rng.uniform(-3, 3, n))
    tracker, path = ScreenTracker(), []
    for x, y in zip(xs, ys):
        tracker.add(cv2.warpAffine(world, np.float32([[1, 0, -x], [0, 1, -y]]), (W, H), flags=cv2.INTER_LINEAR))
        path.append(np.array([[1, 0, x - xs[0]], [0, 1, y - ys[0]], [0, 0, 1.0]]))
    assert corner_error(tracker.result.frame_to_frame0, path, W, H) < 0.3
