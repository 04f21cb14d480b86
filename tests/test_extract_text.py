"""Homework Q4 text extraction: the extract_text CLI, the eval script, and the measures in examples/ocr.py."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
SHARED = Path(__file__).resolve().parents[2] / "shared"

import eval_pages  # noqa: E402
import extract_text  # noqa: E402
import ocr  # noqa: E402

from tinygrad5.data import make_page  # noqa: E402

LINES = ["AB 12", "XYZ"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A private cache folder for generated data and models, set for the whole module."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TINYGRAD5_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def tiny_ckpt(cache, tmp_path_factory) -> Path:
    """A ConvNet trained for a few seconds on 8 generated samples per class (accuracy need not be high)."""
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    ocr.train_model("convnet", path, epochs=2, n_per_class=8, progress=False)
    return path


@pytest.fixture(scope="module")
def page_png(tmp_path_factory) -> Path:
    """A generated photo of two short lines."""
    image, _ = make_page(LINES, seed=3)
    path = tmp_path_factory.mktemp("pages") / "page.png"
    Image.fromarray(image).save(path)
    return path


def _blank(path: Path) -> Path:
    rng = np.random.default_rng(0)
    grey = (170 + rng.normal(0, 3, (400, 600))).clip(0, 255).astype(np.uint8)
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(path)
    return path


# ----------------------------------------------------------------------------- the command line

def test_cli_reads_page_and_shows_boxes(tiny_ckpt, page_png, tmp_path, capsys):
    show = tmp_path / "boxes.png"
    assert extract_text.main([str(page_png), "--model", str(tiny_ckpt), "--show", str(show)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == len(LINES), out
    assert [len(s.replace(" ", "")) for s in out] == [len(s.replace(" ", "")) for s in LINES]
    assert all(c in ocr.CLASSES or c == " " for s in out for c in s)
    with Image.open(show) as im:
        assert im.format == "PNG" and im.size == Image.open(page_png).size


def test_cli_several_images_blank_page(tiny_ckpt, page_png, tmp_path, capsys):
    blank = _blank(tmp_path / "blank.png")
    show = tmp_path / "out.png"
    assert extract_text.main([str(page_png), str(blank), "--model", str(tiny_ckpt), "--show", str(show)]) == 0
    out = capsys.readouterr().out
    assert f"== {page_png} ==" in out and f"== {blank} ==" in out
    assert f"no text found in {blank}" in out
    assert (tmp_path / "out-page.png").is_file() and (tmp_path / "out-blank.png").is_file()


def test_cli_non_image_errors_without_traceback(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "extract_text.py"), str(bad),
                          str(tmp_path / "missing.png"), "--model", str(tmp_path / "never-loaded.npz")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0
    assert "notes.jpg" in res.stderr and "missing.png" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_bad_model_file(page_png, tmp_path, capsys):
    ckpt = tmp_path / "model.npz"
    ckpt.write_text("junk")
    assert extract_text.main([str(page_png), "--model", str(ckpt)]) == 2
    assert "model.npz" in capsys.readouterr().err


def _tiny_and_bomb(tmp_path: Path) -> tuple[Path, Path]:
    """A 5×6 PNG and a PNG whose header claims 20000×20000 pixels (no real data behind it)."""
    import struct
    import zlib

    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.full((5, 6, 3), 200, np.uint8)).save(tiny)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return tiny, bomb


def test_cli_bad_images_one_line_each_others_still_read(tiny_ckpt, page_png, tmp_path, capsys):
    """A tiny image and a decompression bomb each get one error line; the page between them is read; exit 1."""
    assert extract_text.main([str(page_png), "--model", str(tiny_ckpt)]) == 0
    alone = capsys.readouterr().out
    tiny, bomb = _tiny_and_bomb(tmp_path)
    assert extract_text.main([str(tiny), str(page_png), str(bomb), "--model", str(tiny_ckpt)]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err == [f"extract_text: error: {tiny} is 6×5 pixels, too small to hold letters (at least 8×8 needed)",
                   f"extract_text: error: read_image: {bomb} is over Pillow's decompression-bomb limit: "
                   + err[1].split("decompression-bomb limit: ", 1)[1]]
    assert "400000000 pixels" in err[1]  # Pillow's own text names the size (20000 × 20000)
    assert captured.out == f"== {page_png} ==\n" + alone


def test_cli_bad_images_exit_status_without_traceback(tmp_path):
    """The same in a subprocess: no traceback, status 1, nothing else printed to stderr (no model needed)."""
    tiny, bomb = _tiny_and_bomb(tmp_path)
    res = subprocess.run([sys.executable, str(ROOT / "examples" / "extract_text.py"), str(tiny), str(bomb),
                          "--model", str(tmp_path / "never-loaded.npz")], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and "tiny.png" in lines[0] and "bomb.png" in lines[1]
    assert "Traceback" not in res.stderr


def test_cli_sixteen_bit_png_reads_like_the_8bit_one(tiny_ckpt, page_png, tmp_path, capsys):
    """A 16-bit greyscale copy of the page gives the same text as its 8-bit copy, exit 0 (it used to read blank)."""
    grey = np.asarray(Image.open(page_png).convert("L"))
    Image.fromarray(grey).save(tmp_path / "p8.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "p16.png")
    assert extract_text.main([str(tmp_path / "p8.png"), "--model", str(tiny_ckpt)]) == 0
    text8 = capsys.readouterr().out
    assert extract_text.main([str(tmp_path / "p16.png"), "--model", str(tiny_ckpt)]) == 0
    text16 = capsys.readouterr().out
    assert text16 == text8 and "no text found" not in text16
    assert [len(s.replace(" ", "")) for s in text16.strip().splitlines()] == [4, 3]


def test_cli_large_photo_is_downscaled_first(tiny_ckpt, page_png, tmp_path, capsys, monkeypatch):
    """A photo over the working size is shrunk by an integer factor: a 2x enlarged page reads as the page."""
    page = np.asarray(Image.open(page_png))
    assert extract_text.main([str(page_png), "--model", str(tiny_ckpt)]) == 0
    alone = capsys.readouterr().out
    big = tmp_path / "big.png"
    Image.fromarray(page.repeat(2, axis=0).repeat(2, axis=1)).save(big)
    monkeypatch.setattr(extract_text, "WORKING_SIDE", max(page.shape[:2]))
    show = tmp_path / "big-boxes.png"
    assert extract_text.main([str(big), "--model", str(tiny_ckpt), "--show", str(show)]) == 0
    assert capsys.readouterr().out == alone
    with Image.open(show) as im:
        assert im.size == (page.shape[1], page.shape[0])  # boxes drawn on the working-size photo


def test_cli_help_names_the_working_size(capsys):
    with pytest.raises(SystemExit):
        extract_text.parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Photos whose long side exceeds 4096 px are downscaled to at most 4096 px first" in out


def test_cli_train_data_emnist(cache, page_png, tmp_path, capsys):
    """--train-data emnist trains the first model on EMNIST's files and caches it per data set."""
    from tests.test_data_emnist import balanced_folder

    folder = balanced_folder(tmp_path / "emnist", per_class=2)
    argv = [str(page_png), "--arch", "mlp", "--epochs", "1", "--no-progress", "--train-data", "emnist",
            "--data-dir", str(folder)]
    assert extract_text.main(argv) == 0
    captured = capsys.readouterr()
    ckpt = cache / "models" / "mlp-emnist-balanced.npz"
    assert f"training one on emnist-balanced, saving it to {ckpt}" in captured.err
    assert [len(s.replace(" ", "")) for s in captured.out.strip().splitlines()] == [4, 3]
    _, meta = ocr.models.load_model(ckpt)
    assert meta["data"] == "emnist-balanced" and meta["epochs"] == 1
    assert extract_text.main(argv) == 0                     # second time: loaded, not trained
    assert "training" not in capsys.readouterr().err


def test_cli_train_data_errors(page_png, tmp_path, capsys):
    with pytest.raises(SystemExit):
        extract_text.main([str(page_png), "--train-data", "mnist"])
    assert "--train-data mnist needs --data-dir DIR" in capsys.readouterr().err
    assert extract_text.main([str(page_png), "--arch", "mlp", "--train-data", "mnist", "--data-dir",
                              str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("extract_text: error: cannot get the mlp model (mnist): MNIST train file(s) not found in")
    assert "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz" in err and "yann.lecun.com" in err


# ----------------------------------------------------------------------------- checkpoints

def test_cached_checkpoint_prefers_runs(cache, tmp_path):
    assert ocr.cached_checkpoint("mlp", tmp_path / "runs") == cache / "models" / "mlp.npz"
    run = tmp_path / "runs" / "convnet" / "model.npz"
    run.parent.mkdir(parents=True)
    run.write_bytes(b"")
    assert ocr.cached_checkpoint("convnet", tmp_path / "runs") == run
    with pytest.raises(ValueError, match="arch"):
        ocr.cached_checkpoint("resnet")


def test_get_model_trains_once_then_loads(cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ here
    calls = []
    real = ocr.train_model

    def quick(arch, path, **kw):
        calls.append(path)
        return real(arch, path, epochs=1, n_per_class=4, progress=False)

    monkeypatch.setattr(ocr, "train_model", quick)
    _, meta, path = ocr.get_model(None, "mlp", log=lambda m: None)
    assert path == cache / "models" / "mlp.npz" and path.is_file() and meta["arch"] == "mlp"
    _, meta2, _ = ocr.get_model(None, "mlp", log=lambda m: None)
    assert len(calls) == 1 and meta2["layout"] == "upright"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        ocr.get_model(tmp_path / "nope.npz")


def test_classify_shapes_and_layout(tiny_ckpt):
    model, meta = ocr.models.load_model(tiny_ckpt)
    cells = np.random.default_rng(0).random((5, 32, 32)).astype(np.float32)
    chars, conf = ocr.classify(model, meta, cells)
    assert len(chars) == 5 and np.all((conf > 0) & (conf <= 1))
    # A "nist" (column-major) model sees each cell transposed.
    chars_t, _ = ocr.classify(model, {**meta, "layout": "nist"}, cells.transpose(0, 2, 1))
    assert chars_t == chars
    assert ocr.classify(model, meta, np.zeros((0, 32, 32)))[0] == []
    with pytest.raises(ValueError, match="32"):
        ocr.classify(model, meta, np.zeros((2, 28, 28)))


# ----------------------------------------------------------------------------- measures

def test_edit_distance_and_char_accuracy():
    assert ocr.edit_distance("KITTEN", "SITTING") == 3
    assert ocr.edit_distance("", "ABC") == 3 and ocr.edit_distance("ABC", "") == 3
    assert ocr.edit_distance("AB", "BA") == 2 and ocr.edit_distance("ABC", "ABC") == 0
    assert ocr.char_accuracy("A B\nC", "ABC") == (1.0, 0, 3)  # spaces and line breaks do not count
    acc, d, n = ocr.char_accuracy("AXC", "A B C")
    assert (d, n) == (1, 3) and acc == pytest.approx(2 / 3)
    assert ocr.char_accuracy("AC", "ABC")[0] == pytest.approx(2 / 3)  # a missed character
    assert ocr.char_accuracy("XXXXXXXX", "AB")[0] == 0.0  # floored, never negative
    assert ocr.char_accuracy("", "")[0] == 1.0 and ocr.char_accuracy("A", "")[0] == 0.0
    assert ocr.strip_text("A. B\n1.", drop=".") == "AB1"


def test_box_iou():
    a = np.array([[0, 0, 10, 10]])
    iou = ocr.box_iou(a, np.array([[0, 0, 10, 10], [0, 5, 10, 15], [20, 20, 30, 30], [2, 2, 4, 4]]))
    np.testing.assert_allclose(iou, [[1.0, 50 / 150, 0.0, 4 / 100]])
    assert ocr.box_iou(np.zeros((0, 4)), a).shape == (0, 1)


def test_match_boxes_one_to_one_and_optimal():
    truth = np.array([[0, 0, 10, 10], [0, 3, 10, 13]])
    # Greedy matching by best IoU would pair A with truth 0 (0.82) and leave B unmatched
    # (its IoU with truth 1 is 0.33); the optimal matching pairs A-1 (0.67) and B-0 (0.67).
    found = np.array([[0, 1, 10, 11], [0, -2, 10, 8]])
    m = ocr.match_boxes(found, truth)
    assert sorted(m.pairs) == [(0, 1), (1, 0)] and m.recall == 1.0 and m.precision == 1.0
    # Two found boxes on one true box: only one counts.
    m = ocr.match_boxes(np.array([[0, 0, 10, 10], [0, 0, 10, 9]]), truth[:1])
    assert len(m.pairs) == 1 and m.recall == 1.0 and m.precision == 0.5
    # Below the threshold nothing matches; empty inputs are fine.
    assert ocr.match_boxes(np.array([[0, 0, 10, 10]]), np.array([[0, 6, 10, 16]])).pairs == []
    empty = ocr.match_boxes(np.zeros((0, 4)), truth)
    assert (empty.recall, empty.precision) == (0.0, 1.0)


# ----------------------------------------------------------------------------- evaluation script

def test_eval_pages_runs_on_one_page(tiny_ckpt, tmp_path, capsys):
    figures = eval_pages.main(["--model", str(tiny_ckpt), "--pages", "1", "--photo", str(tmp_path / "none.jpg"),
                               "--mistakes", str(tmp_path / "mistakes.png")])
    out = capsys.readouterr().out
    assert "eval_pages_convnet: recall=" in out and "not found; skipped" in out
    assert figures["recall"] >= 0.9 and figures["precision"] >= 0.9  # detection does not depend on the model
    assert 0.0 <= figures["char_acc"] <= 1.0


@pytest.mark.skipif(not (SHARED / "reference" / "letters_photo.jpg").is_file(), reason="shared/ not present")
def test_reference_photo_boxes_and_lines(tiny_ckpt):
    model, meta = ocr.models.load_model(tiny_ckpt)
    ph = eval_pages.eval_photo(SHARED / "reference" / "letters_photo.jpg", model, meta)
    assert ph["boxes"] == 36
    assert ph["lines"] == [7, 7, 7, 5, 10]
    assert len(ocr.strip_text(ph["text"])) == 36
