"""Generated handwriting: conventions, determinism, balance, caching, and the pen model's pieces."""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad5.data.synthetic as synthetic
from tinygrad5.data import CLASSES, SPLIT_SIZES, load_synthetic, to_layout
from tinygrad5.data.cache import cache_key, default_cache_dir
from tinygrad5.data.render import rasterise
from tinygrad5.data.strokes import compile_style, glyph_styles

N = 2   # samples per class: 72 images per split keeps every test fast


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_default_sizes_match_nist36():
    assert {k: 36 * v for k, v in SPLIT_SIZES.items()} == {"train": 10800, "valid": 3600, "test": 1800}


def test_shapes_dtype_range_balance(cache):
    x, y = load_synthetic("train", n_per_class=N, cache_dir=cache)
    assert x.shape == (72, 1024) and x.dtype == np.float32
    assert y.shape == (72,) and y.dtype == np.int64
    # Like NIST's resampled cells, values overshoot [0, 1] a little beside the edges, no further.
    assert synthetic.VALUE_RANGE[0] <= x.min() < 0.0 and 1.0 < x.max() <= synthetic.VALUE_RANGE[1]
    np.testing.assert_array_equal(np.bincount(y, minlength=36), np.full(36, N))


def test_nist_polarity_and_centring(cache):
    x, _ = load_synthetic("valid", n_per_class=N, cache_dir=cache)
    img = x.reshape(-1, 32, 32)
    # White paper around the character, dark ink inside, like NIST36.
    border = np.concatenate([img[:, 0], img[:, -1], img[:, :, 0], img[:, :, -1]], axis=1)
    assert np.median(border) == pytest.approx(1.0)
    assert (img.min(axis=(1, 2)) < 0.2).all()
    ink_share = (img < 0.5).mean(axis=(1, 2))
    assert 0.04 < ink_share.mean() < 0.35
    # The character fills most of the cell (margins of about 2-7 px), centred.
    spans = []
    for im in img:
        rows, cols = np.nonzero(im < 0.5)
        spans.append(max(np.ptp(rows), np.ptp(cols)))
        assert abs((rows.min() + rows.max()) / 2 - 15.5) < 4 and abs((cols.min() + cols.max()) / 2 - 15.5) < 4
    assert min(spans) >= 12 and 20 <= np.mean(spans) <= 29   # lower-case shapes are smaller


def test_same_seed_same_bytes_different_seed_differs():
    a = synthetic.generate("test", N, seed=5)
    b = synthetic.generate("test", N, seed=5)
    c = synthetic.generate("test", N, seed=6)
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert not np.array_equal(a[0], c[0])


def test_splits_are_independent(cache):
    xs = [load_synthetic(s, n_per_class=N, cache_dir=cache)[0] for s in ("train", "valid", "test")]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.array_equal(xs[i], xs[j])
            # No image of one split reappears in another.
            assert not (np.abs(xs[i][:, None] - xs[j][None]).max(axis=2) < 1e-6).any()


def test_layout_and_onehot_follow_loader_conventions(cache):
    x, y = load_synthetic("test", n_per_class=N, cache_dir=cache)
    xn, yo = load_synthetic("test", n_per_class=N, cache_dir=cache, layout="nist", onehot=True)
    np.testing.assert_array_equal(xn, to_layout(x, "nist"))
    assert yo.shape == (72, 36) and (yo.argmax(1) == y).all() and yo.sum() == 72


def test_cache_is_reused(cache, monkeypatch):
    x1, y1 = load_synthetic("valid", n_per_class=N, seed=3, cache_dir=cache)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1

    def fail(*args, **kwargs):
        raise AssertionError("generator called although the cache file exists")

    monkeypatch.setattr(synthetic, "generate", fail)
    x2, y2 = load_synthetic("valid", n_per_class=N, seed=3, cache_dir=cache)
    assert x2.tobytes() == x1.tobytes() and (y2 == y1).all()


def test_cache_invalidated_by_version_and_arguments(cache, monkeypatch):
    load_synthetic("test", n_per_class=N, cache_dir=cache)
    load_synthetic("test", n_per_class=N, seed=1, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2
    calls = []
    real = synthetic.generate
    monkeypatch.setattr(synthetic, "generate", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", synthetic.GENERATOR_VERSION + 1000)
    load_synthetic("test", n_per_class=N, cache_dir=cache)
    assert len(calls) == 1 and len(list(cache.glob("*.npz"))) == 3
    assert not list(cache.glob("*.tmp"))   # atomic write left no temporary file


def test_cache_location_env_and_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD5_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert default_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("TINYGRAD5_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "tinygrad5"
    assert cache_key(a=1, b="x") == cache_key(b="x", a=1) != cache_key(a=2, b="x")
    x, _ = load_synthetic("test", n_per_class=1)
    (path,) = (tmp_path / "xdg" / "tinygrad5").glob("*.npz")
    path.write_bytes(b"not an npz file")
    with pytest.warns(UserWarning, match="unreadable cache"):
        x2, _ = load_synthetic("test", n_per_class=1)
    np.testing.assert_array_equal(x, x2)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="split"):
        load_synthetic("training", n_per_class=1, use_cache=False)
    with pytest.raises(ValueError, match="n_per_class"):
        load_synthetic("train", n_per_class=0, use_cache=False)
    with pytest.raises(ValueError, match="layout"):
        load_synthetic("train", n_per_class=1, layout="cols", use_cache=False)


def test_every_class_has_several_pen_styles():
    for ch in CLASSES:
        styles, probs = glyph_styles(ch)
        assert len(styles) >= 2 and probs.sum() == pytest.approx(1.0)
    # Style variants people actually use: 1 with/without flag and base, 7 with/without bar, 4 open/closed.
    assert len(glyph_styles("1")[0]) >= 3 and len(glyph_styles("7")[0]) >= 2 and len(glyph_styles("4")[0]) >= 2


def test_compiled_arc_lies_on_its_circle():
    style = compile_style("O", "A 50 50 40 40 0 360")
    pts = style.points()
    np.testing.assert_allclose(np.hypot(pts[:, 0] - 0.5, pts[:, 1] - 0.5), 0.4, atol=1e-9)
    assert np.allclose(pts[0], pts[-1]) and style.seg_on.all()


def test_compiled_strokes_share_joined_points_and_lift_between():
    style = compile_style("T", "M 0 0 L 100 0; M 50 0 L 50 100")
    assert style.stroke_first.size == 2 and (~style.seg_on).sum() == 1
    pts = style.points()
    assert pts[style.stroke_first[1]].tolist() == [0.5, 0.0]
    # The T's shared point (50, 0) is not a control of the bar, but (0, 0) and (100, 0) are.
    assert style.ctrl.shape == (4, 2)


@pytest.mark.parametrize("bad", ["L 10 10", "M 10", "M 1 2 X 3 4", "M 5 5"])
def test_path_language_errors(bad):
    with pytest.raises(ValueError, match="style for 'Q'"):
        compile_style("Q", bad)


@settings(max_examples=15, deadline=None)
@given(length=st.floats(6, 20), radius=st.floats(1.0, 3.0), ss=st.sampled_from([1, 2, 3]))
def test_rasterised_capsule_has_capsule_area(length, radius, ss):
    pts = np.array([[8.0, 16.0], [8.0 + length, 16.0]])
    cov = rasterise(pts, np.array([radius, radius]), np.array([True]), 32, 32, supersample=ss)
    area = 2 * radius * length + np.pi * radius**2
    assert cov.sum() == pytest.approx(area, rel=0.06)
    assert cov.max() == pytest.approx(1.0) and cov.min() == 0.0


def test_rasterise_rejects_bad_shapes():
    with pytest.raises(ValueError, match="rasterise"):
        rasterise(np.zeros((3, 2)), np.ones(2), np.ones(2, bool), 8, 8)


def test_font_minority_renders_all_classes():
    rng = np.random.default_rng(0)
    for ch in CLASSES:
        img = synthetic.render_char(ch, rng, font_fraction=1.0)
        assert img.shape == (32, 32) and img.min() < 0.3 and np.median(img) > 0.9


def test_aspect_spread_reaches_further_towards_narrow():
    from tinygrad5.data.render import Distortion, deform
    style = compile_style("O", "A 50 50 50 50 0 360")
    # Only the aspect stretch is random, so log(width / height) is the drawn log-stretch.
    dist = Distortion(jitter=0, stroke_shift=0, overshoot=(0, 0), break_prob=0, slant_mean=0, slant_std=0,
                      rotate_deg=0, aspect_mean=0.0, aspect_std=0.2, aspect_narrow=2.0, elastic=0, pressure=0)
    rng = np.random.default_rng(0)
    pts = [deform(style, rng, dist)[0] for _ in range(1000)]
    logs = np.array([np.log(np.ptp(p[:, 0]) / np.ptp(p[:, 1])) for p in pts])
    assert abs(np.median(logs)) < 0.05
    assert np.percentile(logs, 10) == pytest.approx(-2.0 * np.percentile(logs, 90), rel=0.25)


def test_zero_and_o_widths_overlap():
    # Real NIST Os are about as wide as tall and zeros narrower, but the two overlap: width alone
    # must not separate them.
    def widths(ch):
        styles, probs = glyph_styles(ch)
        return [(np.ptp(s.points()[:, 0]) / np.ptp(s.points()[:, 1]), p) for s, p in zip(styles, probs)]
    mean = {ch: sum(w * p for w, p in widths(ch)) for ch in "O0"}
    assert 0.1 < mean["O"] - mean["0"] < 0.25
    assert max(w for w, _ in widths("0")) > min(w for w, _ in widths("O"))


def test_lower_case_shapes_are_drawn_smaller():
    # Lower-case forms (m, n, u, ...) and small Os keep the pen but not a capital's height.
    rng = np.random.default_rng(0)

    def ink_height(ch):
        heights = []
        for _ in range(200):
            img = synthetic.render_char(ch, rng, font_fraction=0.0)
            rows = np.flatnonzero((img < 0.5).any(axis=1))
            heights.append(np.ptp(rows) + 1)
        return np.median(heights)
    assert any(s.height < 1 for s in glyph_styles("M")[0]) and all(s.height == 1 for s in glyph_styles("H")[0])
    assert ink_height("O") < ink_height("D") - 2


def test_letters_match_nist_population_figures():
    # Population figures of real NIST letters (shared/README.md, measured on half of the dev set):
    # strokes 2.6-4.4 px wide (median 3.4), letters ~23 px tall and wide, ink slightly below 0 and
    # paper slightly above 1 beside the edges.
    from scipy import ndimage

    rng = np.random.default_rng(1)
    imgs = np.stack([synthetic.render_char(CLASSES[i % 26], rng, font_fraction=0.0) for i in range(260)])
    ink = imgs < 0.5
    perimeter = np.array([(m & ~ndimage.binary_erosion(m)).sum() for m in ink])
    width = 2 * ink.sum(axis=(1, 2)) / np.maximum(perimeter, 1)
    assert 2.9 < np.median(width) < 3.9
    heights = np.array([np.ptp(np.flatnonzero(m.any(axis=1))) + 1 for m in ink])
    widths = np.array([np.ptp(np.flatnonzero(m.any(axis=0))) + 1 for m in ink])
    assert 21 < np.median(heights) < 27 and 19 < np.median(widths) < 26
    assert np.median(imgs.min(axis=(1, 2))) < -0.03 and np.median(imgs.max(axis=(1, 2))) > 1.03
