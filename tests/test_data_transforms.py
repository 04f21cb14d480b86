"""Batch augmentation: seeded and repeatable, shapes and range kept, each transform does what it says."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad5 as tg
from tinygrad5.data import render_char
from tinygrad5.data import transforms as T
from tinygrad5.data.loader import DataLoader
from tinygrad5.random import get_rng

ndimage = pytest.importorskip("scipy.ndimage")

FACTORIES = {
    "affine": lambda: T.RandomAffine(degrees=10, translate=2 / 32, scale=(0.85, 1.1), shear=10),
    "elastic": lambda: T.ElasticWarp(alpha=1.0, sigma=4.0),
    "affine+elastic": lambda: T.RandomAffine(degrees=10, shear=10, elastic=T.ElasticWarp(alpha=1.0), p_elastic=0.5),
    "stroke": lambda: T.StrokeWidth(p_thicken=0.5, p_thin=0.5),
    "ink": lambda: T.InkJitter(),
    "blur": lambda: T.GaussianBlur(sigma=(0.5, 1.0)),
    "apply": lambda: T.RandomApply(T.RandomAffine(degrees=20), p=0.5),
    "default": lambda: T.default_augmentation(),
    "strong": lambda: T.default_augmentation("strong"),
}


@pytest.fixture(scope="module")
def letters():
    """16 rendered letters, (16, 1024) float32, paper 1, ink 0, each well inside the frame.

    Clipped to [0, 1] (the generator's NIST-like edges overshoot a little), the range in which the
    transforms' bounds are stated.
    """
    rng = np.random.default_rng(0)
    kept = []
    while len(kept) < 16:
        img = np.clip(render_char("ABCDEFGHKMNOPRSW"[len(kept)], rng), 0.0, 1.0)
        rows, cols = np.nonzero(img < 0.9)
        if min(rows.min(), cols.min()) >= 4 and max(rows.max(), cols.max()) <= 27:  # room to move and grow
            kept.append(img)
    return np.stack(kept).reshape(16, 1024)


def ink_mass(x):
    return (1.0 - x.reshape(len(x), -1)).sum(axis=1)


def centroid(img):
    """(row, col) ink centroid of one 32x32 image."""
    w = 1.0 - img.reshape(32, 32).astype(np.float64)
    ii, jj = np.mgrid[0:32, 0:32]
    return np.array([(w * ii).sum(), (w * jj).sum()]) / w.sum()


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_same_seed_same_batch_other_seed_another(letters, name):
    t = FACTORIES[name]()
    a = t(letters, np.random.default_rng(7))
    b = FACTORIES[name]()(letters, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)  # bit for bit, also from a freshly built transform
    c = t(letters, np.random.default_rng(8))
    assert np.abs(a - c).mean() > 1e-3


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_shapes_dtype_and_input_untouched(letters, name):
    t = FACTORIES[name]()
    flat = letters[:5].copy()
    keep = flat.copy()
    outs = []
    for batch in (flat, flat.reshape(5, 1, 32, 32), flat.reshape(5, 32, 32), flat.astype(np.float64)):
        out = t(batch, np.random.default_rng(3))
        assert out.shape == batch.shape and out.dtype == np.float32
        assert not np.shares_memory(out, batch)
        outs.append(out.reshape(5, 1024))
    np.testing.assert_array_equal(flat, keep)
    for out in outs[1:]:  # the layout does not change the draws or the pixels
        np.testing.assert_array_equal(out, outs[0])


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_each_transform_visibly_changes_letters(letters, name):
    out = FACTORIES[name]()(letters, np.random.default_rng(1))
    changed = np.abs(out - letters).mean(axis=1) > 2e-3
    assert changed.mean() >= (0.2 if name in ("apply", "stroke") else 0.9)
    assert np.abs(out - letters).mean() > 0.01


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_value_range_stays_within_documented_bounds(letters, name):
    noise = np.random.default_rng(2).random((16, 1024), dtype=np.float32)
    for batch in (letters, noise):
        out = FACTORIES[name]()(batch, np.random.default_rng(4))
        if name in ("ink", "default", "strong"):
            assert -0.2 <= out.min() and out.max() <= 1.2
        else:  # averages of the input's values and paper
            assert out.min() >= batch.min() - 1e-6 and out.max() <= 1.0 + 1e-6


def test_default_pipeline_overshoots_like_nist(letters):
    out = T.default_augmentation()(np.repeat(letters, 8, axis=0), np.random.default_rng(0))
    assert out.max() > 1.0 and out.min() < 0.05  # soft edges ring a little past paper


def test_affine_warp_matches_scipy_bilinear():
    x = np.random.default_rng(0).random((6, 32, 32), dtype=np.float32)
    t = T.RandomAffine(degrees=40, translate=0.2, scale=(0.6, 1.4), shear=25)
    out = t(x, np.random.default_rng(5))
    inv = t.matrices(6, 32, 32, np.random.default_rng(5))
    ii, jj = np.mgrid[0:32, 0:32].astype(np.float64)
    for s in range(6):
        ys = inv[s, 1, 0] * jj + inv[s, 1, 1] * ii + inv[s, 1, 2]
        xs = inv[s, 0, 0] * jj + inv[s, 0, 1] * ii + inv[s, 0, 2]
        ref = ndimage.map_coordinates(x[s].astype(np.float64), [ys, xs], order=1, mode="grid-constant", cval=1.0)
        np.testing.assert_allclose(out[s], ref, atol=2e-5)


def test_affine_with_elastic_is_one_resampling_of_the_composed_map():
    x = np.random.default_rng(1).random((12, 32, 32), dtype=np.float32)
    elastic = T.ElasticWarp(alpha=2.0, sigma=4.0)
    t = T.RandomAffine(degrees=20, translate=0.1, scale=(0.8, 1.2), shear=15, elastic=elastic, p_elastic=0.5)
    out = t(x, np.random.default_rng(5))
    rng = np.random.default_rng(5)  # the same draws, in the documented order
    inv = t.matrices(12, 32, 32, rng)
    idx = np.flatnonzero(rng.random(12) < 0.5)
    assert 0 < idx.size < 12
    field = np.zeros((2, 12, 32, 32), np.float32)
    field[:, idx] = elastic.fields(idx.size, 32, rng)
    ii, jj = np.mgrid[0:32, 0:32].astype(np.float64)
    for s in range(12):
        y, x_ = ii + field[0, s], jj + field[1, s]
        ys = inv[s, 1, 0] * x_ + inv[s, 1, 1] * y + inv[s, 1, 2]
        xs = inv[s, 0, 0] * x_ + inv[s, 0, 1] * y + inv[s, 0, 2]
        ref = ndimage.map_coordinates(x[s].astype(np.float64), [ys, xs], order=1, mode="grid-constant", cval=1.0)
        np.testing.assert_allclose(out[s], ref, atol=2e-5)
    plain = T.RandomAffine(degrees=20, translate=0.1, scale=(0.8, 1.2), shear=15)(x, np.random.default_rng(5))
    unwarped = np.setdiff1d(np.arange(12), idx)
    np.testing.assert_allclose(out[unwarped], plain[unwarped], atol=1e-6)
    with pytest.raises(TypeError, match="elastic must be an ElasticWarp or None"):
        T.RandomAffine(elastic=T.GaussianBlur())


def test_translate_moves_the_ink_centroid_by_the_drawn_shift(letters):
    t = T.RandomAffine(translate=(0.1, 0.08))
    out = t(letters, np.random.default_rng(9))
    inv = t.matrices(16, 32, 32, np.random.default_rng(9))  # the same draws
    shift = -inv[:, [1, 0], 2]  # source = p - (ty, tx): the ink moves by +(ty, tx)
    assert np.abs(shift[:, 1]).max() > 1.5
    for s in range(16):
        np.testing.assert_allclose(centroid(out[s]) - centroid(letters[s]), shift[s], atol=0.15)


def test_rotation_and_shear_directions():
    img = np.ones((1, 32, 32), np.float32)
    img[0, 15:17, 24:27] = 0.0  # a dot right of the centre
    up = T.RandomAffine(degrees=(90, 90))(img, np.random.default_rng(0))
    r, c = centroid(up)
    assert r < 10 and abs(c - 15.5) < 0.5  # counter-clockwise as seen: right goes up
    bar = np.ones((1, 32, 32), np.float32)
    bar[0, 4:28, 15:17] = 0.0
    leant = T.RandomAffine(shear=(20, 20))(bar, np.random.default_rng(0))[0]
    paper = np.ones((16, 32))
    top, bottom = centroid(np.vstack([leant[:16], paper])), centroid(np.vstack([paper, leant[16:]]))
    assert top[1] - bottom[1] > 3  # positive shear leans the top to the right


def test_scale_grows_and_shrinks_the_ink(letters):
    big = T.RandomAffine(scale=(1.3, 1.3))(letters, np.random.default_rng(0))
    small = T.RandomAffine(scale=(0.7, 0.7))(letters, np.random.default_rng(0))
    m = ink_mass(letters)
    assert np.all(ink_mass(big) > 1.4 * m) and np.all(ink_mass(small) < 0.6 * m)


def test_stroke_width_thickens_and_thins_by_morphology(letters):
    thick = T.StrokeWidth(p_thicken=1.0, p_thin=0.0, amount=(1.0, 1.0))(letters, np.random.default_rng(0))
    thin = T.StrokeWidth(p_thicken=0.0, p_thin=1.0, amount=(1.0, 1.0), keep_ink=0.0)(letters, np.random.default_rng(0))
    m = ink_mass(letters)
    assert np.all(ink_mass(thick) > 1.3 * m) and np.all(ink_mass(thin) < 0.8 * m)
    fp = np.zeros((3, 3), bool)
    fp[1, :] = fp[:, 1] = True  # the plus-shaped window
    for s in range(4):
        img = letters[s].reshape(32, 32)
        eroded = ndimage.grey_erosion(img, footprint=fp, mode="constant", cval=1.0)
        dilated = ndimage.grey_dilation(img, footprint=fp, mode="constant", cval=1.0)
        np.testing.assert_array_equal(thick[s].reshape(32, 32), eroded)
        np.testing.assert_array_equal(thin[s].reshape(32, 32), dilated)
    none = T.StrokeWidth(p_thicken=0.0, p_thin=0.0)(letters, np.random.default_rng(0))
    np.testing.assert_array_equal(none, letters)
    half = T.StrokeWidth(p_thicken=1.0, p_thin=0.0, amount=(0.5, 0.5), footprint="square")
    half = half(letters, np.random.default_rng(0))
    assert np.all(ink_mass(half) > m) and np.all(ink_mass(half) < ink_mass(thick) + 1e-3 * m)


def test_thinning_keeps_a_share_of_the_ink(letters):
    fine = np.ones((2, 32, 32), np.float32)
    fine[:, 4:28, 15] = 0.0  # a one-pixel stroke: a full max filter would erase it
    fine[1, 4:28, 16] = 0.5
    t = T.StrokeWidth(p_thicken=0.0, p_thin=1.0, amount=(1.0, 1.0), keep_ink=0.6)
    for batch in (fine, letters.reshape(16, 32, 32)):
        before, after = ink_mass(batch), ink_mass(t(batch, np.random.default_rng(0)))
        assert np.all(after >= 0.6 * before - 1e-3) and np.all(after < before)
    erased = T.StrokeWidth(p_thicken=0.0, p_thin=1.0, amount=(1.0, 1.0), keep_ink=0.0)(fine, np.random.default_rng(0))
    assert ink_mass(erased)[0] == 0


def test_stroke_width_choice_follows_the_probabilities(letters):
    batch = np.repeat(letters[:1], 2000, axis=0)
    out = T.StrokeWidth(p_thicken=0.3, p_thin=0.2)(batch, np.random.default_rng(0))
    d = ink_mass(out) - ink_mass(batch)
    assert abs((d > 1e-3).mean() - 0.3) < 0.04 and abs((d < -1e-3).mean() - 0.2) < 0.04


def test_elastic_field_is_smooth_with_rms_alpha_and_zero_alpha_is_identity(letters):
    t = T.ElasticWarp(alpha=1.5, sigma=4.0)
    dy, dx = t.fields(400, 32, np.random.default_rng(0))
    assert abs(dy.std() - 1.5) < 0.1 and abs(dx.std() - 1.5) < 0.1 and abs(dy.mean()) < 0.1
    step = np.abs(np.diff(dy, axis=2)).mean()
    assert step < 0.4 * np.abs(dy).mean()  # neighbours move together: a smooth field, not noise
    np.testing.assert_array_equal(T.ElasticWarp(alpha=0.0)(letters, np.random.default_rng(0)), letters)
    out = t(letters, np.random.default_rng(0))
    ratio = ink_mass(out) / ink_mass(letters)  # a warp stretches some strokes and squeezes others
    assert abs(ratio.mean() - 1) < 0.1 and np.all(np.abs(ratio - 1) < 0.6)


def test_gaussian_blur_matches_scipy_per_sample_sigma(letters):
    t = T.GaussianBlur(sigma=(0.2, 1.2))
    out = t(letters, np.random.default_rng(6))
    sigma = 0.2 + 1.0 * np.random.default_rng(6).random(16)
    radius = math.ceil(3 * sigma.max())
    for s in range(16):
        ref = ndimage.gaussian_filter(letters[s].reshape(32, 32).astype(np.float64), sigma[s], mode="constant",
                                      cval=1.0, radius=radius)
        np.testing.assert_allclose(out[s].reshape(32, 32), ref, atol=2e-6)
    np.testing.assert_array_equal(T.GaussianBlur(sigma=0.0)(letters, np.random.default_rng(0)), letters)


def test_ink_jitter_levels_contrast_and_overshoot(letters):
    def jitter(seed=0, **kw):
        return T.InkJitter(**kw)(letters, np.random.default_rng(seed))

    plain = dict(ink=(0, 0), paper=(1, 1), contrast=(1, 1), overshoot=(0, 0))
    np.testing.assert_allclose(jitter(**plain, clip=None), letters, atol=1e-6)
    grey = jitter(**{**plain, "ink": (0.4, 0.4), "paper": (0.9, 0.9)})
    np.testing.assert_allclose(grey, 0.9 - 0.5 * (1 - letters), atol=1e-6)
    bold, faint = jitter(**{**plain, "contrast": (2, 2)}), jitter(**{**plain, "contrast": (0.5, 0.5)})
    m = ink_mass(letters)
    assert np.all(ink_mass(bold) > 1.05 * m) and np.all(ink_mass(faint) < 0.95 * m)
    ring = jitter(**{**plain, "overshoot": (0.5, 0.5)}, clip=None)
    assert ring.max() > 1.02 and ring.min() < -0.02  # rings past paper and ink next to the strokes
    np.testing.assert_allclose(ink_mass(ring), m, rtol=0.02)  # an unsharp mask moves no ink overall
    clipped = jitter(overshoot=(0.5, 0.5), clip=(0.0, 1.0))
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0


def test_random_apply_and_compose_use_the_rng_in_order(letters):
    t = T.RandomAffine(degrees=30)
    np.testing.assert_array_equal(T.RandomApply(t, p=0.0)(letters, np.random.default_rng(0)), letters)
    rng = np.random.default_rng(0)
    rng.random(16)  # RandomApply's per-sample coin flips come first
    np.testing.assert_array_equal(T.RandomApply(t, p=1.0)(letters, np.random.default_rng(0)), t(letters, rng))
    out = T.RandomApply(t, p=0.5)(np.repeat(letters[:1], 400, 0), np.random.default_rng(0))
    assert 0.4 < (np.abs(out - letters[:1]).mean(axis=1) > 1e-3).mean() < 0.6
    whole = T.RandomApply(t, p=0.5, per_sample=False)
    changed = [bool(np.any(whole(letters, np.random.default_rng(s)) != letters)) for s in range(20)]
    assert 3 < sum(changed) < 17
    a, b = T.InkJitter(), T.GaussianBlur()
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(T.Compose([a, b])(letters, np.random.default_rng(1)), b(a(letters, rng), rng))
    empty = T.Compose([])(letters, np.random.default_rng(0))
    np.testing.assert_array_equal(empty, letters)
    assert not np.shares_memory(empty, letters)


def test_compose_runs_plain_callables_on_the_batch_shape(letters):
    seen = []

    def darken(batch, rng):
        seen.append(batch.shape)
        return batch * np.float32(0.5)

    pipeline = T.Compose([darken, T.GaussianBlur(0.0), lambda b, r: b])
    out = pipeline(letters.reshape(16, 1, 32, 32), np.random.default_rng(0))
    assert seen == [(16, 1, 32, 32)] and out.shape == (16, 1, 32, 32)
    np.testing.assert_array_equal(out.reshape(16, 1024), letters * np.float32(0.5))
    ident = T.Compose([lambda b, r: b])(letters, np.random.default_rng(0))
    assert not np.shares_memory(ident, letters)
    with pytest.raises(ValueError, match=r"returned \(16, 32\), expected an array of shape \(16, 1024\)"):
        T.Compose([lambda b, r: b[:, :32]])(letters, np.random.default_rng(0))


@given(st.integers(0, 5), st.sampled_from([(32, 32), (20, 20), (24, 16)]), st.integers(0, 2**31))
def test_any_batch_size_and_image_size(n, hw, seed):
    x = np.random.default_rng(seed).random((n,) + hw, dtype=np.float32)
    for name in ("affine", "stroke", "ink", "blur", "apply"):
        out = FACTORIES[name]()(x, np.random.default_rng(seed))
        assert out.shape == x.shape and out.dtype == np.float32 and np.all(np.isfinite(out))
    if hw[0] == hw[1]:
        assert T.ElasticWarp()(x, np.random.default_rng(seed)).shape == x.shape


def test_bad_batches_and_arguments_are_named():
    x = np.ones((2, 1024), np.float32)
    t = T.GaussianBlur()
    with pytest.raises(TypeError, match="floating-point batch.*uint8"):
        t(np.ones((2, 1024), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"square images.*\(2, 1000\)"):
        t(np.ones((2, 1000), np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\), got \(2, 3, 32, 32\)"):
        t(np.ones((2, 3, 32, 32), np.float32), np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator.*int"):
        t(x, 0)
    with pytest.raises(ValueError, match="ElasticWarp needs square images, got 20x24"):
        T.ElasticWarp()(np.ones((2, 20, 24), np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="RandomAffine degrees must be a finite non-negative number"):
        T.RandomAffine(degrees=-5)
    with pytest.raises(ValueError, match="low <= high"):
        T.RandomAffine(scale=(1.2, 0.8))
    with pytest.raises(ValueError, match="translate fractions must lie in"):
        T.RandomAffine(translate=1.5)
    with pytest.raises(ValueError, match="p_thicken must be a probability"):
        T.StrokeWidth(p_thicken=1.5)
    with pytest.raises(ValueError, match="p_thicken \\+ p_thin must be <= 1"):
        T.StrokeWidth(p_thicken=0.6, p_thin=0.6)
    with pytest.raises(ValueError, match="footprint must be 'plus' or 'square', got 'disk'"):
        T.StrokeWidth(footprint="disk")
    with pytest.raises(ValueError, match="sigma must be a positive number of pixels, got 0"):
        T.ElasticWarp(sigma=0)
    with pytest.raises(ValueError, match="contrast must be positive"):
        T.InkJitter(contrast=(0, 1))
    with pytest.raises(TypeError, match="must be callable"):
        T.Compose([T.InkJitter(), "blur"])
    with pytest.raises(ValueError, match="p must be a probability"):
        T.RandomApply(T.InkJitter(), p=2)
    with pytest.raises(ValueError, match="strength must be one of .*'huge'"):
        T.default_augmentation("huge")


# -- through the DataLoader ---------------------------------------------------------------------

def test_loader_transform_repeats_for_a_seed_and_never_touches_labels(letters):
    x = np.repeat(letters, 5, axis=0)  # 80 images
    y = np.arange(80, dtype=np.int64)
    aug = T.default_augmentation()
    plain = list(DataLoader(x, y, batch_size=32, seed=4, as_tensor=False))
    run1 = list(DataLoader(x, y, batch_size=32, seed=4, transform=aug, as_tensor=False))
    run2 = list(DataLoader(x, y, batch_size=32, seed=4, transform=aug, as_tensor=False))
    rng = np.random.default_rng(4)
    order = rng.permutation(80)
    for k, ((px, py), (ax, ay), (bx, by)) in enumerate(zip(plain, run1, run2)):
        np.testing.assert_array_equal(py, order[32 * k:32 * k + 32])  # same permutation as without
        np.testing.assert_array_equal(ay, py)
        np.testing.assert_array_equal(ax, bx)
        np.testing.assert_array_equal(ax, aug(x[py], rng))  # the loader's own generator, after the permutation
        assert np.abs(ax - px).mean() > 0.01
    tensors = next(iter(DataLoader(x, y, batch_size=8, seed=1, transform=aug)))
    assert isinstance(tensors[0], tg.Tensor) and tensors[0].dtype == np.float32 and tensors[1].dtype == np.int64


def test_loader_transform_uses_the_global_generator_without_a_seed(letters):
    aug = T.InkJitter()
    tg.manual_seed(11)
    a = [b[0].data.copy() for b in DataLoader(letters, batch_size=5, transform=aug)]
    tg.manual_seed(11)
    b = [b[0].data.copy() for b in DataLoader(letters, batch_size=5, transform=aug)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    tg.manual_seed(12)
    c = [b[0].data.copy() for b in DataLoader(letters, batch_size=5, transform=aug)]
    assert not np.array_equal(a[0], c[0])


def test_loader_without_transform_draws_exactly_as_before():
    x, y = np.arange(50, dtype=np.float32) * 2, np.arange(50)
    loader = DataLoader(x, y, batch_size=8, seed=6, as_tensor=False)
    ref = np.random.default_rng(6)
    for _ in range(2):
        order = ref.permutation(50)
        got = list(loader)
        assert len(got) == 7
        for k, (bx, by) in enumerate(got):
            np.testing.assert_array_equal(by, order[8 * k:8 * k + 8])
            np.testing.assert_array_equal(bx, x[order[8 * k:8 * k + 8]])
    assert loader._rng.random() == ref.random()  # nothing else was drawn
    tg.manual_seed(3)
    list(DataLoader(x, batch_size=8, as_tensor=False))
    after = get_rng().random()
    tg.manual_seed(3)
    get_rng().permutation(50)
    assert after == get_rng().random()
    unshuffled = list(DataLoader(x, batch_size=8, shuffle=False, as_tensor=False, seed=1))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in unshuffled]), x)


def test_loader_transform_errors_are_named(letters):
    with pytest.raises(TypeError, match="transform must be a callable transform\\(batch, rng\\) or None, got 3"):
        DataLoader(letters, batch_size=4, transform=3)
    loader = DataLoader(letters, batch_size=4, transform=lambda b, r: b[:2], seed=0)
    with pytest.raises(ValueError, match=r"returned shape \(2, 1024\) for a batch of shape \(4, 1024\)"):
        next(iter(loader))
    loader = DataLoader(letters, batch_size=4, transform=lambda b, r: None, seed=0)
    with pytest.raises(ValueError, match="returned NoneType"):
        next(iter(loader))
    assert "transform=" in repr(DataLoader(letters, batch_size=4, transform=T.InkJitter()))
