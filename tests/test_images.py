"""Safe decoding: every kind of bad file gets a clear ImageError; odd modes become RGB."""
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from simkit.features.images import (IMAGENET_MEAN, IMAGENET_STD, MIN_SIDE, ImageError, load_rgb,
                           load_tensor, normalize, normalize_pixels, preprocess)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a huge size: the shape of a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def noise(h=48, w=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- bad files -------------------------------------------------------------------------
def test_missing_and_zero_byte(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_rgb(tmp_path / "nope.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty.png: the file is empty \(0 bytes\)"):
        load_rgb(empty)


def test_non_image_named_jpg(tmp_path):
    p = tmp_path / "page.jpg"
    p.write_text("<!DOCTYPE html><html><body>404 Not Found</body></html>")
    with pytest.raises(ImageError, match=r"page.jpg: not an image.*HTML"):
        load_rgb(p)
    q = tmp_path / "random.jpg"
    q.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ImageError, match="random.jpg: not an image"):
        load_rgb(q)


def test_truncated_jpeg_and_png(tmp_path):
    for ext in ("jpg", "png"):
        full = tmp_path / f"full.{ext}"
        Image.fromarray(noise(64, 64)).save(full)
        data = full.read_bytes()
        cut = tmp_path / f"cut.{ext}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageError, match=rf"cut.{ext}: .*(truncated|corrupt)"):
            load_rgb(cut)


def test_corrupt_png_data(tmp_path):
    p = tmp_path / "bad.png"
    Image.fromarray(noise(64, 64)).save(p)
    data = bytearray(p.read_bytes())
    i = data.index(b"IDAT") + 20
    data[i:i + 40] = b"\xff" * 40  # garbage inside the compressed pixels
    p.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="bad.png"):
        load_rgb(p)


def test_decompression_bomb(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(30_000, 30_000))  # 900 MP claimed in a 100-byte file
    with pytest.raises(ImageError, match=r"bomb.png: .*(too large|exceeds).*decompression"):
        load_rgb(bomb)
    ok = tmp_path / "ok.png"
    Image.fromarray(noise(64, 64)).save(ok)
    with pytest.raises(ImageError, match=r"ok.png: 64x64 = 4,096 pixels exceeds the limit"):
        load_rgb(ok, max_pixels=4000)
    assert load_rgb(ok, max_pixels=5000).size == (64, 64)


def test_tiny_images_rejected(tmp_path):
    p = tmp_path / "tiny.png"
    Image.fromarray(noise(64, MIN_SIDE - 1)).save(p)
    with pytest.raises(ImageError, match=r"tiny.png: the image is 31x64 pixels; .*at least 32"):
        load_rgb(p)
    q = tmp_path / "small_ok.png"
    Image.fromarray(noise(MIN_SIDE, MIN_SIDE)).save(q)
    assert load_rgb(q).size == (32, 32)


# -- conversions -----------------------------------------------------------------------
def test_grayscale_and_cmyk_become_rgb(tmp_path):
    g = np.random.default_rng(2).integers(0, 256, (40, 50), dtype=np.uint8)
    Image.fromarray(g, "L").save(tmp_path / "gray.png")
    rgb = np.asarray(load_rgb(tmp_path / "gray.png"))
    assert rgb.shape == (40, 50, 3) and all((rgb[..., k] == g).all() for k in range(3))
    cmyk = Image.new("CMYK", (40, 40), (0, 255, 255, 0))  # pure red in CMYK
    cmyk.save(tmp_path / "cmyk.jpg", quality=95)
    out = load_rgb(tmp_path / "cmyk.jpg")
    assert out.mode == "RGB"
    r, g_, b = np.asarray(out).reshape(-1, 3).mean(axis=0)
    assert r > 200 and g_ < 60 and b < 60


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    a = np.array([[0, 257 * 100, 32768, 65535]] * 40, dtype=np.uint16).repeat(10, axis=1)
    Image.fromarray(a).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as im:
        assert im.mode.startswith("I")  # really a 16-bit file
    rgb = np.asarray(load_rgb(tmp_path / "deep.png"))
    assert rgb[0, ::10, 0].tolist() == [0, 100, 128, 255]


def test_alpha_is_composited_on_white(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)  # black ...
    rgba[:, :20, 3] = 0                      # ... fully transparent on the left
    rgba[:, 20:, 3] = 255                    # ... opaque on the right
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    rgb = np.asarray(load_rgb(tmp_path / "alpha.png"))
    assert (rgb[:, :20] == 255).all() and (rgb[:, 20:] == 0).all()
    la = Image.fromarray(np.dstack([np.zeros((40, 40), np.uint8),
                                    np.full((40, 40), 128, np.uint8)]), "LA")
    la.save(tmp_path / "la.png")
    assert abs(int(np.asarray(load_rgb(tmp_path / "la.png"))[0, 0, 0]) - 127) <= 1


def test_palette_with_transparency(tmp_path):
    p = Image.new("P", (40, 40), 1)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    p.paste(0, (0, 0, 20, 40))  # left half: index 0, declared transparent
    p.save(tmp_path / "pal.png", transparency=0)
    rgb = np.asarray(load_rgb(tmp_path / "pal.png"))
    assert (rgb[:, :20] == 255).all()           # transparent -> white
    assert (rgb[:, 20:] == [255, 0, 0]).all()   # opaque red stays red
    p2 = Image.new("P", (40, 40), 1)
    p2.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    p2.save(tmp_path / "pal2.gif")
    assert (np.asarray(load_rgb(tmp_path / "pal2.gif")) == [0, 0, 255]).all()


# -- preprocessing ---------------------------------------------------------------------
def test_resize_policy_and_normalisation(tmp_path):
    Image.fromarray(np.full((50, 80, 3), 255, np.uint8)).save(tmp_path / "white.png")
    x = load_tensor(tmp_path / "white.png", "resize", 64)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    expect = [(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    assert torch.allclose(x.mean(dim=(1, 2)), torch.tensor(expect), atol=1e-6)
    assert load_tensor(tmp_path / "white.png", "keep-aspect", 64).shape == (3, 64, 102)
    assert load_tensor(tmp_path / "white.png", "native").shape == (3, 50, 80)
    with pytest.raises(ValueError, match="unknown preprocessing policy"):
        load_tensor(tmp_path / "white.png", "crop")


def test_no_resampling_when_already_the_size():
    a = noise(224, 224, seed=5)
    x = preprocess(Image.fromarray(a), "resize", 224)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    direct = (torch.from_numpy(a).permute(2, 0, 1).float() / 255 - mean) / std
    assert torch.equal(x, direct)


@pytest.mark.parametrize("mean,std", [(IMAGENET_MEAN, IMAGENET_STD),
                                      ((0.4815, 0.4578, 0.4082), (0.2686, 0.2613, 0.2758))])
def test_numpy_normalisation_is_torchs_bit_for_bit(mean, std):
    # every value 0-255 in every channel: an element-wise computation has no other inputs
    pixels = np.stack([np.arange(256, dtype=np.uint8)] * 3, axis=1)[None]  # (1, 256, 3)
    ours = torch.from_numpy(normalize_pixels(pixels, mean, std)).permute(2, 0, 1)
    ref = normalize(torch.from_numpy(pixels.copy()).permute(2, 0, 1), mean, std)
    assert ours.dtype == torch.float32
    assert torch.equal(ours.view(torch.int32), ref.contiguous().view(torch.int32))


def test_downscale_is_antialiased():
    # a one-pixel checkerboard averages to grey when shrunk with antialiasing;
    # plain bilinear sampling without it would keep near-black/white pixels
    board = (np.indices((256, 256)).sum(axis=0) % 2 * 255).astype(np.uint8)
    x = preprocess(Image.fromarray(np.dstack([board] * 3)), "resize", 64)
    grey = (0.5 - IMAGENET_MEAN[0]) / IMAGENET_STD[0]
    assert torch.allclose(x[0], torch.full((64, 64), grey), atol=0.05)
