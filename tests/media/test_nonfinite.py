"""Non-finite pixels: NaN and +-Inf in float images are replaced where they are read and again
before they are written, and counted per input, so one bad pixel cannot spread through a key
or a comp, or fail an encode.

Policy (paicli.media.nonfinite): NaN -> 0, +Inf -> 65504 (alpha: 1), -Inf -> 0.
"""
from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import OpenEXR
import pytest

from paicli.media import nonfinite
from paicli.media.exr import read_exr, read_layers, write_exr
from paicli.media.reader import open_source
from paicli.media.stills import read_still
from paicli.media.writers import OutputSpec, Writer
from paicli.media.ycbcr import rgb_to_ycbcr
from paicli.shot.references import RefSpec, load_references


@pytest.fixture(autouse=True)
def _empty_tally():
    nonfinite.reset()
    yield
    nonfinite.reset()


def poisoned(h: int = 8, w: int = 12, c: int = 3) -> np.ndarray:
    """A mid-grey float32 (h, w, c) image with NaN at (1, 1), +Inf at (2, 2) (one channel),
    -Inf at (3, 3) and NaN + Inf together at (4, 4): four bad pixels."""
    img = np.full((h, w, c), 0.25, np.float32)
    img[1, 1, :] = np.nan
    img[2, 2, 0] = np.inf
    img[3, 3, 1] = -np.inf
    img[4, 4, 0], img[4, 4, 1] = np.nan, np.inf
    return img


def write_raw_exr(path, img: np.ndarray, names: str = "RGBA") -> None:
    """Write float32 (H, W, C) as channels R, G, B(, A) with the OpenEXR binding itself: paicli's
    writers would (rightly) make the values finite, and these files must hold NaN and Inf."""
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    planes = {n: np.ascontiguousarray(img[..., i]) for i, n in enumerate(names[:img.shape[-1]])}
    with OpenEXR.File(header, planes) as f:
        f.write(str(path))


def raw_exr_pixels(path) -> np.ndarray:
    """Every channel of an EXR as stored, read with the OpenEXR binding (no paicli sanitising)."""
    with OpenEXR.File(str(path), separate_channels=True) as f:
        return np.stack([np.asarray(ch.pixels, np.float32) for ch in f.channels().values()], -1)


# ---------------------------------------------------------------------------- the policy


def test_nan_becomes_0_plus_inf_the_largest_half_and_minus_inf_0():
    out, n = nonfinite.replace(poisoned())
    assert np.isfinite(out).all() and n == 4
    assert out[1, 1].tolist() == [0.0, 0.0, 0.0]
    assert out[2, 2, 0] == 65504.0 and out[3, 3, 1] == 0.0
    assert out[4, 4, 0] == 0.0 and out[4, 4, 1] == 65504.0
    assert out[0, 0, 0] == np.float32(0.25)  # finite values untouched


def test_plus_inf_in_alpha_is_fully_opaque():
    img = np.full((2, 2, 4), 0.5, np.float32)
    img[0, 0, 3] = np.inf
    img[0, 1, 0] = np.inf
    out, n = nonfinite.replace(img)
    assert out[0, 0, 3] == 1.0 and out[0, 1, 0] == 65504.0 and n == 2


def test_the_callers_array_is_not_changed_unless_inplace():
    img = poisoned()
    out, _ = nonfinite.replace(img)
    assert np.isnan(img[1, 1, 0]) and out is not img
    same, _ = nonfinite.replace(img, inplace=True)
    assert same is img and np.isfinite(img).all()


def test_a_finite_array_comes_back_as_is_even_when_its_sum_overflows():
    img = np.full((4, 4, 3), 3e38, np.float32)  # the sum is inf: the exact check must say finite
    out, n = nonfinite.replace(img)
    assert out is img and n == 0


def test_a_file_read_again_is_counted_once_per_label(tmp_path):
    write_raw_exr(tmp_path / "p.exr", poisoned())
    for _ in range(3):  # a plate streamed for analysis, then for the render
        read_exr(tmp_path / "p.exr", what="plate")
    read_exr(tmp_path / "p.exr", what="clean plate")
    assert nonfinite.tally() == {"plate": 4, "clean plate": 4}


def test_the_tally_counts_pixels_by_label_and_none_is_not_counted():
    nonfinite.sanitise(poisoned(), "plate")
    nonfinite.sanitise(poisoned(), "plate")
    nonfinite.sanitise(poisoned(), "references")
    nonfinite.sanitise(poisoned(), None)
    assert nonfinite.tally() == {"plate": 8, "references": 4}
    assert nonfinite.reset() == {"plate": 8, "references": 4} and nonfinite.tally() == {}


# ---------------------------------------------------------------------------- reading


def test_read_exr_returns_finite_pixels_and_counts_them(tmp_path):
    write_raw_exr(tmp_path / "p.exr", poisoned())
    assert not np.isfinite(raw_exr_pixels(tmp_path / "p.exr")).all()  # the file really holds them
    img, info = read_exr(tmp_path / "p.exr", what="plate")
    assert np.isfinite(img).all() and info.nonfinite == 4 and img[2, 2, 0] == 65504.0
    assert nonfinite.tally() == {"plate": 4}


def test_read_layers_returns_finite_layers(tmp_path):
    matte = np.full((8, 12, 1), 0.5, np.float32)
    matte[0, 0], matte[7, 7] = np.nan, np.inf
    write_raw_exr(tmp_path / "l.exr", np.concatenate([poisoned(), matte], -1), names=("R", "G", "B", "matte.Y"))
    layers, info = read_layers(tmp_path / "l.exr")
    assert set(layers) == {"rgba", "matte"} and all(np.isfinite(v).all() for v in layers.values())
    assert info.nonfinite == 4 + 2


def test_a_float_tiff_still_comes_back_finite(tmp_path):
    cv2.imwrite(str(tmp_path / "f.tif"), poisoned())
    img, info = read_still(tmp_path / "f.tif", what="refs")
    assert np.isfinite(img).all() and info.nonfinite == 4 and nonfinite.tally() == {"refs": 4}


def test_an_exr_plate_sequence_streams_finite_frames_counted_under_its_label(tmp_path):
    for i in range(3):
        write_raw_exr(tmp_path / f"plate.{1001 + i:04d}.exr", poisoned())
    with open_source(tmp_path / "plate.####.exr", what="plate") as src:
        frames = list(src.frames())
    assert all(np.isfinite(f).all() for f in frames) and src.nonfinite == 12
    assert nonfinite.tally() == {"plate": 12}  # probing the first frame did not count it twice


def test_an_rgba_exr_plate_with_nan_alpha_streams_finite(tmp_path):
    img = np.concatenate([poisoned(), np.ones((8, 12, 1), np.float32)], -1)
    img[5, 5, 3] = np.nan
    write_raw_exr(tmp_path / "plate.1001.exr", img)
    with open_source(tmp_path / "plate.1001.exr") as src:
        frame = next(iter(src.frames()))
    assert np.isfinite(frame).all() and frame[5, 5, 3] == 0.0


def test_an_exr_reference_loads_finite_and_is_counted(tmp_path):
    write_raw_exr(tmp_path / "ref.0000.exr", poisoned(h=72, w=128))
    (ref,) = load_references([RefSpec(tmp_path / "ref.0000.exr", 0, "name")], 64, 36)
    assert np.isfinite(ref.image).all() and ref.nonfinite == 4
    assert nonfinite.tally() == {"references": 4}


# ---------------------------------------------------------------------------- writing


@pytest.mark.parametrize("pixel_type", ["half", "float"])
def test_write_exr_never_stores_a_non_finite_value(tmp_path, pixel_type):
    img = poisoned()
    write_exr(tmp_path / "o.exr", img, pixel_type=pixel_type)
    assert np.isfinite(raw_exr_pixels(tmp_path / "o.exr")).all()
    assert np.isnan(img[1, 1, 0])  # the caller's frame is left as it was


@pytest.mark.parametrize("space", ["srgb", "bt709"])
def test_an_exr_writer_with_an_output_colour_space_takes_a_nan_frame(tmp_path, space):
    # the colour conversion used to index its lookup table with int(NaN): IndexError
    w = Writer(tmp_path / "o.####.exr", OutputSpec(format="exr", colourspace=space), "media", 12, 8, Fraction(24),
               None, None)
    with w:
        w.write(poisoned())
    assert w.nonfinite == 4 and nonfinite.tally() == {str(tmp_path / "o.####.exr"): 4}
    (out,) = sorted(tmp_path.glob("o.*.exr"))
    assert np.isfinite(raw_exr_pixels(out)).all()


@pytest.mark.parametrize("profile", ["hq", "4444"])
def test_the_prores_writer_takes_nan_and_inf_in_colour_and_alpha(tmp_path, profile):
    frame = np.concatenate([poisoned(), np.ones((8, 12, 1), np.float32)], -1)
    frame[6, 6, 3], frame[7, 7, 3] = np.nan, np.inf
    w = Writer(tmp_path / "o.mov", OutputSpec(format="prores", prores_profile=profile), "media", 12, 8,
               Fraction(24), None, None)
    with w:
        w.write(frame)
        w.write_straight(poisoned(), np.full((8, 12), np.nan, np.float32))
    with av.open(str(tmp_path / "o.mov")) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 2 and w.nonfinite == 6 + 4 + 8 * 12  # counted where they reached the writer
    luma = np.frombuffer(frames[0].planes[0], np.uint16).reshape(-1, frames[0].planes[0].line_size // 2)
    grey = int(luma[0, 0])
    assert grey > 300 and int(luma[1, 1]) < grey - 200  # the NaN pixel is black, not garbage


def test_rgb_to_ycbcr_maps_nan_to_black_without_a_cast_warning():
    rgb = np.full((2, 4, 3), 0.5, np.float32)
    rgb[0, 0] = np.nan
    with np.errstate(invalid="raise"):
        y, cb, cr = rgb_to_ycbcr(rgb, 10, subsampling="444")
    assert y[0, 0] == 64 and cb[0, 0] == 512 and cr[0, 0] == 512
