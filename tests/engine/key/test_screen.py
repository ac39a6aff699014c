"""Screen detection, push-pull hole filling, the clean plate and the screen report, on
synthetic screens (see synthetic_screen.py)."""
import cv2
import numpy as np
import pytest

from engine.key import screen as screen_module
from engine.key.keyer import Keyer, KeyParams
from engine.key.screen import (clean_plate, components, detect_screen, fill_holes, find_screen, screen_difference,
                               screen_mask, within, working_scale)
from synthetic_screen import MARKERS, H, W, composite, natural_image, subject_alpha, uneven_screen, with_markers


# ------------------------------------------------------------------ detect_screen


@pytest.mark.parametrize("kind", ["green", "blue"])
def test_detect_screen_finds_the_screen_colour_and_its_coverage(kind):
    screen = uneven_screen(kind)
    img = composite(subject_alpha(), with_markers(screen))
    found = detect_screen(img)
    assert found is not None and found.kind == kind
    assert found.channel == {"green": 1, "blue": 2}[kind]
    # the subject covers about a fifth of the frame; the rest is screen
    assert 0.6 < found.coverage < 0.9
    # its colour is the screen's typical colour, not the subject's grey
    typical = np.median(screen.reshape(-1, 3), axis=0)
    np.testing.assert_allclose(found.colour, typical, atol=0.04)
    assert found.difference > 0.25


@pytest.mark.parametrize("img", [natural_image(), np.repeat(natural_image()[..., :1], 3, -1)],
                         ids=["brown-gradient", "grey-gradient"])
def test_detect_screen_returns_none_on_a_natural_image(img):
    assert detect_screen(img) is None


def test_detect_screen_restricted_to_one_kind_ignores_the_other():
    img = composite(subject_alpha(), uneven_screen("green"))
    assert detect_screen(img, kind="blue") is None
    assert detect_screen(img, kind="green").kind == "green"


# real screens: dim, desaturated, unevenly lit (the camera sees what the stage lights give it)
DIM_DESATURATED = {"green": (0.14, 0.30, 0.20), "blue": (0.12, 0.17, 0.30)}


def _real_screen(kind: str, brightness: float = 1.0, vignette: float = 0.5) -> np.ndarray:
    light = uneven_screen("green", vignette=vignette)[..., 1:2] / 0.45  # the falloff alone
    return (np.array(DIM_DESATURATED[kind], np.float32) * brightness * light).astype(np.float32)


@pytest.mark.parametrize("kind", ["green", "blue"])
@pytest.mark.parametrize("brightness", [1.0, 0.3], ids=["dim", "dimmer"])
def test_a_dim_desaturated_screen_is_found_with_its_colour(kind, brightness):
    screen = with_markers(_real_screen(kind, brightness))
    img = composite(subject_alpha(), screen, fg=(0.3, 0.25, 0.2), noise=0.004 * brightness)
    for forced in (None, kind):
        found = detect_screen(img, forced)
        assert found is not None and found.kind == kind
        assert 0.6 < found.coverage < 0.9
        np.testing.assert_allclose(found.colour, np.median(screen.reshape(-1, 3), 0), rtol=0.1, atol=0.003)


def test_a_dim_desaturated_screen_is_keyed():
    img = composite(subject_alpha(), _real_screen("green"), fg=(0.3, 0.25, 0.2), noise=0.003)
    res = Keyer(KeyParams(temporal=0.0), detect_screen(img)).key(img)
    truth = subject_alpha()
    assert np.abs(res.alpha - truth)[truth > 0.99].mean() < 0.02
    assert np.abs(res.alpha - truth)[truth < 0.01].mean() < 0.02


def test_a_frame_without_a_screen_says_how_far_off_it_was():
    img = composite(subject_alpha(), uneven_screen("green"))
    found = find_screen(img, kind="blue")
    assert found.screen is None and "blue screen-coloured area covers 0% of the frame" in found.why
    found = find_screen(img, min_coverage=0.95)
    assert found.screen is None and "covers 76% of the frame (a screen covers at least 95%)" in found.why


def test_detect_screen_needs_the_minimum_coverage():
    img = composite(subject_alpha(), uneven_screen("green"))
    assert detect_screen(img, min_coverage=0.95) is None


def test_screen_difference_is_the_screen_channels_excess():
    px = np.array([[[0.1, 0.5, 0.2], [0.3, 0.3, 0.3]]], np.float32)
    np.testing.assert_allclose(screen_difference(px, "green"), [[0.3, 0.0]], atol=1e-7)
    np.testing.assert_allclose(screen_difference(px, "blue"), [[-0.3, 0.0]], atol=1e-7)


def test_screen_mask_keeps_out_the_subject_and_its_soft_edge():
    alpha = subject_alpha()
    img = composite(alpha, uneven_screen("green"))
    mask = screen_mask(img, detect_screen(img))
    assert mask.dtype == bool and mask.shape == (H, W)
    assert not mask[alpha > 0].any()
    assert mask[alpha == 0].mean() > 0.8


# ------------------------------------------------------------------ fill_holes


def smooth_field(h=64, w=96):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([0.2 + 0.3 * x / w, 0.4 + 0.2 * np.sin(y / 20), 0.3 + 0.1 * x * y / (h * w)], -1).astype(np.float32)


def test_fill_holes_keeps_known_pixels_exactly_and_fills_holes_from_their_surroundings():
    img = smooth_field()
    known = np.ones(img.shape[:2], bool)
    known[20:40, 30:60] = False
    holed = img.copy()
    holed[~known] = 5.0  # whatever is in the hole must not leak into the fill
    out = fill_holes(holed, known)
    assert out.dtype == np.float32 and out.shape == img.shape
    np.testing.assert_array_equal(out[known], img[known])
    err = np.abs(out - img)[~known]
    assert err.mean() < 0.02 and err.max() < 0.06


@pytest.mark.parametrize("shape", [(64, 96), (64, 96, 1)], ids=["2-D", "one-channel"])
def test_fill_holes_works_on_single_channel_images(shape):
    img = smooth_field()[..., 0].reshape(shape)
    known = np.ones((64, 96), bool)
    known[10:30, 10:40] = False
    out = fill_holes(img, known)
    assert out.shape == shape
    np.testing.assert_array_equal(out[known], img[known])
    assert np.abs(out - img)[~known].max() < 0.03


# ------------------------------------------------------------------ clean_plate


def test_clean_plate_is_the_empty_screen_behind_the_subject():
    screen = uneven_screen("green")
    alpha = subject_alpha()
    img = composite(alpha, screen)
    plate, measured = clean_plate(img, detect_screen(img))
    assert plate.shape == img.shape and plate.dtype == np.float32
    assert measured.shape == alpha.shape and not measured[alpha > 0].any()
    behind = alpha > 0.5
    err = np.abs(plate - screen).max(-1)
    # push-pull cannot know the vignette's peak behind the subject; it stays within ~10 %
    assert err[behind].mean() < 0.035 and err[behind].max() < 0.05
    # no grey from the subject is left in the plate: its screen difference stays near the screen's
    d_plate, d_screen = screen_difference(plate, "green"), screen_difference(screen, "green")
    assert (d_plate[behind] > 0.85 * d_screen[behind]).all()
    # where the screen is seen, the plate is the screen, with the noise smoothed away
    assert err[alpha == 0].mean() < 0.005


def test_clean_plate_fills_in_behind_tracking_markers():
    screen = uneven_screen("green")
    img = composite(subject_alpha(), with_markers(screen))
    plate, measured = clean_plate(img, detect_screen(img))
    for x, y in MARKERS:
        assert not measured[y, x]
        np.testing.assert_allclose(plate[y - 6:y + 7, x - 6:x + 7], screen[y - 6:y + 7, x - 6:x + 7], atol=0.012)


def test_clean_plate_is_not_whitened_by_semi_transparent_strands():
    screen = uneven_screen("green", vignette=0.0)
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    strands = (np.abs(np.sin(x / 3.0)) > 0.9) & (y < 35)  # a fringe of thin 30 %-opaque strands at the top
    alpha = np.maximum(subject_alpha(), 0.3 * strands).astype(np.float32)
    img = composite(alpha, screen, fg=(0.8, 0.8, 0.8))
    plate, _ = clean_plate(img, detect_screen(img))
    err = np.abs(plate - screen).max(-1)
    assert err[y < 35].max() < 0.02


def test_working_scale_grows_with_the_frame_height():
    assert [working_scale((h, 16)) for h in (180, 540, 1080, 2160)] == [1, 1, 2, 4]


def test_clean_plate_of_a_tall_frame_is_full_resolution():
    h, w = 1080, 96  # working scale 2: estimated at half size, returned at full size
    screen = uneven_screen("green", h=h, w=w)
    img = composite(subject_alpha(edge_px=6.0, h=h, w=w), screen)
    plate, measured = clean_plate(img, detect_screen(img))
    assert plate.shape == img.shape and measured.shape == (h, w)
    assert np.abs(plate - screen)[measured].max() < 0.02


# ------------------------------------------------------------------ screen_quality

def _quality(vignette):
    screen = uneven_screen("green", vignette=vignette)
    img = composite(subject_alpha(), screen)
    found = detect_screen(img)
    plate, _ = clean_plate(img, found)
    return screen_module.screen_quality(img, plate, screen_mask(img, found), found)


def test_screen_quality_reports_an_even_screen_as_even():
    q = _quality(vignette=0.0)
    assert q["evenness"] > 0.97
    assert 0.5 < q["coverage"] < 0.9
    assert q["noise"] < 0.01  # the composite's noise is 0.004 per channel


def test_screen_quality_reports_a_vignetted_screen_as_less_even():
    assert _quality(vignette=0.7)["evenness"] < _quality(vignette=0.0)["evenness"] - 0.05


@pytest.mark.parametrize("px", [0.955, 1.5, 2.5, 3.0, 5.0, 7.5, 8.0, 12.0])
def test_within_gives_the_pixels_a_distance_transform_puts_within_reach(px):
    rng = np.random.default_rng(7)
    mask = cv2.GaussianBlur(rng.random((120, 160), dtype=np.float32), (0, 0), 4.0) > 0.52  # blobs and specks
    want = cv2.distanceTransform(1 - mask.astype(np.uint8), cv2.DIST_L2, 3) <= px
    np.testing.assert_array_equal(within(mask, px), want)
    assert 0 < want.sum() < want.size


@pytest.mark.parametrize("connectivity", [4, 8])
def test_components_report_what_opencv_reports(connectivity):
    rng = np.random.default_rng(8)
    mask = (cv2.GaussianBlur(rng.random((90, 130), dtype=np.float32), (0, 0), 1.5) > 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
    got_n, got_labels, got_stats = components(mask, connectivity)
    assert got_n == n > 10
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_array_equal(got_stats, stats)
