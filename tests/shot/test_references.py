"""Background references: finding, anchoring, decoding to linear and fitting to the shot."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.colour import bt709_inverse_oetf, srgb_decode
from paicli.errors import BadDataError, ExitCode, MissingInputError, UsageError
from paicli.media.exr import write_exr
from paicli.shot.references import RefSpec, find_references, load_references


def png(path: Path, rgb, size=(8, 6), bits=8) -> Path:
    """A flat PNG of ``rgb`` code values (width, height = size); ``rgb`` may be a full (H, W, C) array."""
    w, h = size
    arr = np.asarray(rgb)
    if arr.ndim == 1:
        arr = np.broadcast_to(arr, (h, w, arr.size))
    arr = arr.astype(np.uint8 if bits == 8 else np.uint16)
    if arr.shape[2] == 3:
        arr = arr[..., ::-1]
    elif arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(arr))
    return path


def touch_pngs(folder: Path, *names: str) -> list[Path]:
    return [png(folder / n, [10, 20, 30]) for n in names]


def anchors(specs):
    return [(s.path.name, s.anchor, s.anchored_by) for s in specs]


def spec(path, anchor=0):
    return RefSpec(Path(path), anchor, "default")


# ---------------------------------------------------------------------------- finding


def test_folder_contributes_its_images_in_natural_order_ignoring_non_images(tmp_path):
    touch_pngs(tmp_path / "refs", "bg10.png", "bg2.PNG", "bg1.jpg")
    (tmp_path / "refs" / "README").write_text("shot notes")
    (tmp_path / "refs" / "notes.txt").write_text("x")
    (tmp_path / "refs" / ".DS_Store").write_bytes(b"\0")
    png(tmp_path / "refs" / "._bg3.png", [0, 0, 0])  # macOS resource fork: hidden
    (tmp_path / "refs" / "sub.png").mkdir()  # a folder with an image-like name
    specs = find_references([tmp_path / "refs"], 24)
    assert [s.path.name for s in specs] == ["bg1.jpg", "bg2.PNG", "bg10.png"]
    assert all(s.path.parent == tmp_path / "refs" for s in specs)


def test_files_and_folders_mix_and_duplicates_are_listed_once(tmp_path):
    a, b = touch_pngs(tmp_path / "refs", "a.png", "b.png")
    c = png(tmp_path / "c.tif", [1, 2, 3])
    specs = find_references([tmp_path / "refs", c, a, str(tmp_path / "refs" / ".." / "refs" / "b.png")], 24)
    assert [s.path.name for s in specs] == ["a.png", "b.png", "c.tif"]


def test_natural_sort_puts_ref2_before_ref10_across_entries(tmp_path):
    paths = touch_pngs(tmp_path, "ref10.png", "ref2.png", "Ref1.png")
    specs = find_references(paths, 30)
    assert [s.path.name for s in specs] == ["Ref1.png", "ref2.png", "ref10.png"]


@pytest.mark.parametrize("n, frames, expected", [
    (1, 24, [0]),
    (2, 24, [0, 23]),
    (3, 24, [0, 11, 23]),
    (5, 24, [0, 5, 11, 17, 23]),
    (3, 25, [0, 12, 24]),
])
def test_default_anchors_spread_references_over_the_shot(tmp_path, n, frames, expected):
    touch_pngs(tmp_path / "refs", *(f"plate_{chr(97 + i)}.png" for i in range(n)))
    specs = find_references([tmp_path / "refs"], frames)
    assert [s.anchor for s in specs] == expected
    assert [s.path.name for s in specs] == sorted(s.path.name for s in specs)
    assert {s.anchored_by for s in specs} == {"default"}


def test_frame_numbers_in_names_anchor_the_references(tmp_path):
    touch_pngs(tmp_path / "refs", "ref.0023.png", "ref_0005.png", "ref.0000.png")
    specs = find_references([tmp_path / "refs"], 24)
    assert anchors(specs) == [("ref.0000.png", 0, "name"), ("ref_0005.png", 5, "name"), ("ref.0023.png", 23, "name")]


def test_frame_numbers_beyond_the_shot_are_source_frame_numbers_from_first_frame(tmp_path):
    touch_pngs(tmp_path / "refs", "bg.1001.png", "bg.1012.png", "bg.1024.png")
    specs = find_references([tmp_path / "refs"], 24, first_frame=1001)
    assert [s.anchor for s in specs] == [0, 11, 23]


def test_one_based_names_read_as_source_numbers_for_all_not_some(tmp_path):
    # 1 and 12 are also valid 0-based indices, 24 is not: the set reads as source numbers
    touch_pngs(tmp_path / "refs", "bg.0001.png", "bg.0012.png", "bg.0024.png")
    specs = find_references([tmp_path / "refs"], 24, first_frame=1)
    assert [s.anchor for s in specs] == [0, 11, 23]


def test_numbers_on_only_some_names_are_ignored_for_the_default(tmp_path):
    touch_pngs(tmp_path / "refs", "bg.0020.png", "bg_final.png", "bg_v2.png")
    specs = find_references([tmp_path / "refs"], 24)
    assert anchors(specs) == [("bg.0020.png", 0, "default"), ("bg_final.png", 11, "default"),
                              ("bg_v2.png", 23, "default")]


def test_name_anchor_outside_the_shot_is_bad_data_with_a_hint(tmp_path):
    touch_pngs(tmp_path / "refs", "ref.0000.png", "ref.0099.png")
    with pytest.raises(BadDataError) as e:
        find_references([tmp_path / "refs"], 24)
    msg = e.value.message
    assert "ref.0099.png anchors frame 99 but the shot has 24 frames (0-23); rename it or use --bg-at" in msg
    assert e.value.exit_code == ExitCode.DATAERR and "\n" not in msg


def test_name_anchor_outside_both_readings_mentions_the_source_range(tmp_path):
    touch_pngs(tmp_path / "refs", "ref.1001.png", "ref.1099.png")
    with pytest.raises(BadDataError, match=r"1099 .*0-23, or source frames 1001-1024"):
        find_references([tmp_path / "refs"], 24, first_frame=1001)


@pytest.mark.parametrize("bg_at", ["0, 5,23", [0, 5, 23], (np.int64(0), 5, 23)])
def test_bg_at_anchors_the_sorted_references_in_order_and_overrides_names(tmp_path, bg_at):
    touch_pngs(tmp_path / "refs", "c.0001.png", "a.0002.png", "b.0003.png")
    specs = find_references([tmp_path / "refs"], 24, bg_at=bg_at)
    assert anchors(specs) == [("a.0002.png", 0, "bg-at"), ("b.0003.png", 5, "bg-at"), ("c.0001.png", 23, "bg-at")]


def test_bg_at_takes_source_frame_numbers_too(tmp_path):
    touch_pngs(tmp_path / "refs", "a.png", "b.png")
    specs = find_references([tmp_path / "refs"], 24, bg_at="1001,1024", first_frame=1001)
    assert [s.anchor for s in specs] == [0, 23]


def test_bg_at_need_not_be_ascending_and_result_is_sorted_by_anchor(tmp_path):
    touch_pngs(tmp_path / "refs", "a.png", "b.png")
    specs = find_references([tmp_path / "refs"], 24, bg_at="20,3")
    assert anchors(specs) == [("b.png", 3, "bg-at"), ("a.png", 20, "bg-at")]


def test_bg_at_count_mismatch_is_usage_error_saying_both_counts(tmp_path):
    touch_pngs(tmp_path / "refs", "a.png", "b.png", "c.png")
    with pytest.raises(UsageError) as e:
        find_references([tmp_path / "refs"], 24, bg_at="0,23")
    assert "2 anchors" in e.value.message and "3 references" in e.value.message
    assert e.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("bg_at", ["0,x", "0,4.5", "0,", [0, 4.5], [0, True]])
def test_bg_at_non_integers_are_usage_errors(tmp_path, bg_at):
    touch_pngs(tmp_path / "refs", "a.png", "b.png")
    with pytest.raises(UsageError):
        find_references([tmp_path / "refs"], 24, bg_at=bg_at)


@pytest.mark.parametrize("bg_at", ["0,24", "-1,5"])
def test_bg_at_outside_the_shot_is_bad_data(tmp_path, bg_at):
    touch_pngs(tmp_path / "refs", "a.png", "b.png")
    with pytest.raises(BadDataError, match=r"--bg-at anchors .* but the shot has 24 frames \(0-23\)"):
        find_references([tmp_path / "refs"], 24, bg_at=bg_at)


def test_two_references_on_one_frame_is_bad_data_naming_both(tmp_path):
    touch_pngs(tmp_path / "refs", "ref.0005.png", "ref_0005.jpg")
    with pytest.raises(BadDataError) as e:
        find_references([tmp_path / "refs"], 24)
    assert "ref.0005.png" in e.value.message and "ref_0005.jpg" in e.value.message
    with pytest.raises(BadDataError, match="both anchor frame 7"):
        find_references([tmp_path / "refs"], 24, bg_at="7,7")


def test_more_default_references_than_frames_collide(tmp_path):
    touch_pngs(tmp_path / "refs", "a.png", "b.png", "c.png")
    with pytest.raises(BadDataError, match="both anchor frame"):
        find_references([tmp_path / "refs"], 2)


def test_folder_without_images_is_missing_input_exit_66(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README").write_text("nothing here")
    with pytest.raises(MissingInputError) as e:
        find_references([tmp_path / "empty"], 24)
    assert e.value.exit_code == 66
    assert e.value.message.startswith(f"no reference images in {tmp_path / 'empty'}")


def test_missing_reference_is_missing_input(tmp_path):
    with pytest.raises(MissingInputError) as e:
        find_references([tmp_path / "nope.png"], 24)
    assert e.value.message == f"no such reference: {tmp_path / 'nope.png'}"
    assert e.value.exit_code == 66


def test_non_image_file_is_usage_error(tmp_path):
    (tmp_path / "bg.mov").write_bytes(b"\0")
    with pytest.raises(UsageError, match="bg.mov"):
        find_references([tmp_path / "bg.mov"], 24)


def test_no_references_at_all_is_usage_error():
    with pytest.raises(UsageError):
        find_references([], 24)


# ---------------------------------------------------------------------------- loading


def test_8bit_srgb_png_decodes_exactly_to_linear(tmp_path):
    p = png(tmp_path / "a.png", [188, 0, 255])
    (ref,) = load_references([spec(p)], 8, 6)
    assert ref.image.dtype == np.float32 and ref.image.shape == (6, 8, 3)
    np.testing.assert_allclose(ref.image[0, 0], [0.50289, 0.0, 1.0], atol=2e-5)
    np.testing.assert_allclose(ref.image[3, 4, 0], srgb_decode(np.float32(188 / 255)), atol=1e-6)
    assert (ref.fitted, ref.source_size, ref.spec.path) == ("exact", (8, 6), p)


def test_16bit_png_decodes_from_srgb_at_full_precision(tmp_path):
    p = png(tmp_path / "a.png", [48195, 1000, 65535], bits=16)
    (ref,) = load_references([spec(p)], 8, 6)
    np.testing.assert_allclose(ref.image[2, 2], srgb_decode(np.array([48195, 1000, 65535], np.float32) / 65535),
                               atol=1e-6)


def test_exr_reference_is_kept_scene_linear_and_alpha_dropped(tmp_path):
    lin = np.zeros((6, 8, 4), np.float32)
    lin[...] = [4.0, 0.5, 0.125, 1.0]  # super-white survives: no transfer applied
    write_exr(tmp_path / "bg.exr", lin, pixel_type="float")
    (ref,) = load_references([spec(tmp_path / "bg.exr")], 8, 6)
    assert ref.image.shape == (6, 8, 3)
    np.testing.assert_array_equal(ref.image, lin[..., :3])


def test_colourspace_overrides_the_default_decode(tmp_path):
    p = png(tmp_path / "a.png", [188, 64, 0])
    codes = np.array([188, 64, 0], np.float32) / 255
    (lin,) = load_references([spec(p)], 8, 6, colourspace="linear")
    np.testing.assert_allclose(lin.image[0, 0], codes, atol=1e-7)
    (vid,) = load_references([spec(p)], 8, 6, colourspace="Rec709")  # alias, canonicalised
    np.testing.assert_allclose(vid.image[0, 0], bt709_inverse_oetf(codes), atol=2e-5)
    with pytest.raises(UsageError, match="unknown colour space"):
        load_references([spec(p)], 8, 6, colourspace="no-such-space")


def test_gray_png_is_replicated_to_rgb_and_rgba_alpha_dropped(tmp_path):
    gray = np.full((6, 8, 1), 188, np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    rgba = png(tmp_path / "rgba.png", [188, 188, 188, 7])
    refs = load_references([spec(tmp_path / "g.png"), spec(rgba, 5)], 8, 6)
    for ref in refs:
        assert ref.image.shape == (6, 8, 3)
        np.testing.assert_allclose(ref.image, srgb_decode(np.float32(188 / 255)), atol=2e-5)


def test_same_aspect_is_scaled_to_the_shot(tmp_path):
    stripes = np.zeros((45, 60, 3), np.uint16)
    stripes[:, ::3] = 65535  # every third column lit: area averaging gives exactly 1/3
    big = png(tmp_path / "big.png", stripes, size=(60, 45), bits=16)
    shrink, = load_references([spec(big)], 20, 15, colourspace="linear")
    assert (shrink.fitted, shrink.source_size, shrink.image.shape) == ("scaled", (60, 45), (15, 20, 3))
    np.testing.assert_allclose(shrink.image, 1 / 3, atol=1e-6)
    grow, = load_references([spec(png(tmp_path / "small.png", [0, 255, 0], size=(20, 15)))], 40, 30)
    assert grow.fitted == "scaled" and grow.image.shape == (30, 40, 3)
    assert grow.image.min() >= 0.0
    np.testing.assert_allclose(grow.image[..., 1], 1.0, atol=1e-5)


def test_enlarging_clips_bicubic_undershoot_below_black(tmp_path):
    edge = np.zeros((15, 20, 3), np.uint16)
    edge[:, 10:] = 65535  # a hard black/white edge rings under bicubic
    ref, = load_references([spec(png(tmp_path / "edge.png", edge, size=(20, 15), bits=16))], 80, 60)
    assert ref.fitted == "scaled" and ref.image.min() == 0.0


def test_aspect_within_one_percent_is_scaled_not_cropped(tmp_path):
    ref, = load_references([spec(png(tmp_path / "a.png", [50, 50, 50], size=(1925, 1080)))], 1920, 1080)
    assert ref.fitted == "scaled" and ref.image.shape == (1080, 1920, 3)


def test_nearby_aspect_is_covered_and_centre_cropped(tmp_path):
    # 4:3 reference for a wider shot: full width kept, top and bottom rows cropped equally
    src = np.zeros((30, 40, 3), np.uint16)
    src[:, :, 0] = np.arange(30)[:, None] * 1000  # red encodes the source row
    p = png(tmp_path / "a.png", src, size=(40, 30), bits=16)
    ref, = load_references([spec(p)], 40, 22, colourspace="linear")
    assert (ref.fitted, ref.image.shape, ref.source_size) == ("cropped", (22, 40, 3), (40, 30))
    rows = np.rint(ref.image[:, 0, 0] * 65535 / 1000).astype(int)
    assert rows.tolist() == list(range(4, 26))  # rows 4..25 of 0..29: centred


def test_nearby_aspect_is_scaled_up_to_cover_then_cropped(tmp_path):
    ref, = load_references([spec(png(tmp_path / "a.png", [0, 0, 255], size=(30, 30)))], 40, 30)
    assert ref.fitted == "cropped" and ref.image.shape == (30, 40, 3)
    np.testing.assert_allclose(ref.image[..., 2], 1.0, atol=1e-5)


def test_wildly_different_aspect_is_bad_data(tmp_path):
    p = png(tmp_path / "portrait.png", [0, 0, 0], size=(108, 192))
    with pytest.raises(BadDataError) as e:
        load_references([spec(p)], 192, 108)
    assert e.value.message == (f"{p} is 108x192 (aspect 0.56), the shot is 192x108 (1.78): too different to fit")


def test_corrupt_reference_is_bad_data_exit_65_naming_the_file_on_one_line(tmp_path):
    good = png(tmp_path / "good.png", [1, 2, 3])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    with pytest.raises(BadDataError) as e:
        load_references([spec(good), spec(bad, 5)], 8, 6)
    assert e.value.exit_code == 65
    assert str(bad) in e.value.message and "\n" not in e.value.message


def test_corrupt_exr_reference_is_bad_data_naming_the_file(tmp_path):
    bad = tmp_path / "bad.exr"
    bad.write_bytes(b"v/1\x01" + b"garbage" * 20)
    with pytest.raises(BadDataError) as e:
        load_references([spec(bad)], 8, 6)
    assert str(bad) in e.value.message and "\n" not in e.value.message


def test_find_then_load_round_trip_on_an_exr_sequence(tmp_path):
    (tmp_path / "bg").mkdir()
    for n in (1001, 1024):
        write_exr(tmp_path / "bg" / f"clean.{n}.exr", np.full((6, 8, 3), n / 1000, np.float32), pixel_type="float")
    refs = load_references(find_references([tmp_path / "bg"], 24, first_frame=1001), 8, 6)
    assert [(r.spec.anchor, r.spec.anchored_by) for r in refs] == [(0, "name"), (23, "name")]
    np.testing.assert_allclose([r.image[0, 0, 0] for r in refs], [1.001, 1.024], rtol=1e-6)
