"""Safe image decoding and the preprocessing policies of the deep-feature methods.

:func:`load_rgb` turns any file a researcher is likely to have into an 8-bit RGB
``PIL.Image``, or raises :class:`ImageError` naming the file and saying how to fix it:

* empty (0-byte), truncated or corrupt files, and non-image files named ``.jpg``;
* decompression bombs: images with more than ``max_pixels`` pixels (default 100 million,
  checked from the header before any pixel is decoded);
* tiny images (either side smaller than :data:`MIN_SIDE` = 32 px).

Documented conversions (no error):

* EXIF orientation is applied, so the image is seen as a viewer shows it;
* grayscale, 1-bit and palette images are expanded to RGB;
* CMYK (and YCbCr, LAB, HSV) are converted with Pillow's conversion (no ICC colour
  management);
* 16-bit (and 32-bit integer) grayscale is scaled to 8 bits (``value / 257``); float
  images are read as 0–1 when their maximum is at most 1, else as 0–255 (clipped);
* transparency (an alpha channel or a palette transparency) is composited **on white**,
  as a page shows the image, so a transparent background never turns black;
* an animated image contributes its first frame.

:func:`preprocess` then applies a policy and returns a normalised ``(3, H, W)`` float
tensor:

* ``"resize"`` (default): ``size`` x ``size``, bilinear with antialiasing (Pillow's
  bilinear filter widens its support when shrinking); no resampling at all when the image
  already has that size;
* ``"keep-aspect"``: the shorter side becomes ``size``, the aspect ratio is kept;
* ``"native"``: the image as it is.

Pixels are scaled to [0, 1] and normalised with the ImageNet mean and standard deviation,
as the torchvision models expect.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator, Sequence

import numpy as np

from simkit.errors import SimkitError
from simkit.paths import open_regular

if TYPE_CHECKING:  # heavy imports stay out of import time
    import multiprocessing.context

    import torch
    from PIL import Image as PILImage

__all__ = [
    "ImageError", "MIN_SIDE", "MAX_PIXELS", "MAX_FILE_BYTES", "POLICIES", "IMAGENET_MEAN", "IMAGENET_STD",
    "load_rgb", "preprocess", "load_tensor", "resize_policy", "normalize", "normalize_pixels",
    "iter_batches",
    "image_aspect", "verify_image", "default_workers", "DecodeWorkerError", "DecodeItems",
    "decode_item", "stack_runs", "worker_context", "WORKER_TIMEOUT", "WORKER_POLL",
    "WORKER_START", "WORKER_PRELOAD",
]

#: Images with a side shorter than this are rejected: conv5_1 would see less than 2x2.
MIN_SIDE = 32
#: Default decompression-bomb limit (pixels); 100 MP is larger than any sensible scan.
MAX_PIXELS = 100_000_000
#: Image files larger than this are refused before they are read: a 100 MP image stored
#: uncompressed with 16-bit RGBA is 800 MB, so a bigger file is not an image simkit can use.
MAX_FILE_BYTES = 2 << 30
POLICIES = ("resize", "keep-aspect", "native")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageError(SimkitError, ValueError):
    """An image file cannot be used; the message names the file and how to fix it."""


def load_rgb(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> "PILImage.Image":
    """Decode ``path`` into an 8-bit RGB image (see the module docstring for conversions)."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: file not found; check the 'file' column of images.csv "
                         f"(it is relative to the study folder)")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file; point 'file' at an image")
    # read only through open_regular: a FIFO or a device would block or never end
    try:
        fh = open_regular(path, max_bytes=MAX_FILE_BYTES)
    except OSError as e:
        raise ImageError(f"{path}: cannot read the file ({e.strerror or e}); point 'file' "
                         f"at an image file") from None
    with fh:
        return _decode(path, fh, max_pixels)


def _decode(path: Path, fh: "BinaryIO", max_pixels: int) -> "PILImage.Image":
    """:func:`load_rgb` on an open regular file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if os.fstat(fh.fileno()).st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes); copy the image again")
    # Pillow warns above its own MAX_IMAGE_PIXELS (about 89 MP) and refuses at twice that;
    # simkit's limit (max_pixels, checked from the header below, before any pixel is
    # decoded) is the one that applies, so Pillow's warning is silenced, not obeyed.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(fh)
        except UnidentifiedImageError:
            fh.seek(0)
            head = fh.read(16)
            hint = (" (it looks like HTML or text: perhaps an error page was saved)"
                    if head.lstrip().lower().startswith((b"<", b"{")) else "")
            raise ImageError(f"{path}: not an image file Pillow can read{hint}; replace it "
                             f"with a JPEG, PNG, TIFF, WebP or BMP image") from None
        except Image.DecompressionBombError:
            raise ImageError(f"{path}: the image is too large (decompression-bomb guard); "
                             f"resize it below {max_pixels:,} pixels") from None
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageError(f"{path}: cannot open the image ({e}); the file is corrupt, "
                             f"replace it") from None
    with img:
        w, h = img.size
        if w * h > max_pixels:
            raise ImageError(f"{path}: {w}x{h} = {w * h:,} pixels exceeds the limit of "
                             f"{max_pixels:,} (decompression-bomb guard); resize the image "
                             f"or raise max_pixels if you trust the file")
        if min(w, h) < MIN_SIDE:
            raise ImageError(f"{path}: the image is {w}x{h} pixels; both sides must be at "
                             f"least {MIN_SIDE} px, use a larger version of the image")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img.load()
                img = ImageOps.exif_transpose(img) or img
                return _to_rgb(img)
        except ImageError:
            raise
        except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, ...
            raise ImageError(f"{path}: the image data is truncated or corrupt ({e}); "
                             f"copy or export the image again") from None


def verify_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> None:
    """Check that ``path`` is an image simkit can use, before untrusted bytes are kept.

    The same decoder and limits as :func:`load_rgb` (header, ``max_pixels``, the smallest
    side, every byte decoded), so a downloaded file passes exactly when a study could use it.

    Raises
    ------
    ImageError
        Naming the file and what is wrong with it.
    """
    load_rgb(path, max_pixels=max_pixels).close()


def image_aspect(path: str | os.PathLike) -> float:
    """Width / height of an image, read from its file header only (no decoding).

    Returns NaN for a file that cannot be opened, so that a caller filtering by aspect
    simply leaves it out.
    """
    from PIL import Image

    try:
        with open_regular(path, max_bytes=MAX_FILE_BYTES) as fh, Image.open(fh) as im:
            return im.size[0] / im.size[1]
    except OSError:
        return float("nan")


def _to_rgb(img: "PILImage.Image") -> "PILImage.Image":
    """Convert any Pillow mode to RGB, compositing transparency on white."""
    from PIL import Image

    mode = img.mode
    if mode == "RGB" and "transparency" not in img.info:
        return img.copy()  # detached from the file, which the caller closes
    if mode in ("I", "F") or mode.startswith("I;16"):
        a = np.asarray(img)
        if mode == "F":
            a = a.astype(np.float64) * (255.0 if np.nanmax(a) <= 1.0 else 1.0)
        else:  # 16-bit (or 32-bit integer) grayscale: 65535 -> 255
            a = a.astype(np.float64) / 257.0
        a = np.clip(np.nan_to_num(a), 0, 255).round().astype(np.uint8)
        return Image.fromarray(a, "L").convert("RGB")
    has_alpha = (mode in ("RGBA", "LA", "PA", "RGBa", "La")
                 or (mode in ("P", "L", "RGB", "1") and "transparency" in img.info))
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def resize_policy(img: "PILImage.Image", policy: str = "resize", size: int = 224
                  ) -> "PILImage.Image":
    """Apply a preprocessing policy's geometry (see the module docstring)."""
    from PIL import Image

    if policy not in POLICIES:
        raise ValueError(f"unknown preprocessing policy {policy!r}; use one of "
                         f"{', '.join(POLICIES)}")
    w, h = img.size
    if policy == "native":
        return img
    if policy == "resize":
        target = (size, size)
    else:  # keep-aspect: the shorter side becomes `size`
        if w <= h:
            target = (size, max(1, round(h * size / w)))
        else:
            target = (max(1, round(w * size / h)), size)
    if target == (w, h):
        return img  # already the right size: no resampling, pixels stay exact
    return img.resize(target, Image.Resampling.BILINEAR, reducing_gap=None)


def normalize(batch: "torch.Tensor", mean: Sequence[float] = IMAGENET_MEAN,
              std: Sequence[float] = IMAGENET_STD) -> "torch.Tensor":
    """uint8 ``(..., 3, H, W)`` -> float32 in [0, 1] -> normalised (ImageNet's mean and
    standard deviation unless a model has its own, e.g. CLIP), in one pass."""
    import torch

    # on the batch's device: a GPU normalises the uint8 pixels it was sent (4x less to copy)
    mean = torch.tensor(tuple(mean), dtype=torch.float32, device=batch.device).view(3, 1, 1)
    std = torch.tensor(tuple(std), dtype=torch.float32, device=batch.device).view(3, 1, 1)
    return (batch.to(torch.float32) / 255.0 - mean) / std


def normalize_pixels(pixels: np.ndarray, mean: Sequence[float] = IMAGENET_MEAN,
                     std: Sequence[float] = IMAGENET_STD) -> np.ndarray:
    """uint8 ``(H, W, 3)`` -> normalised float32 ``(H, W, 3)``: :func:`normalize`'s
    arithmetic, step for step in float32, so bit for bit its result (a test checks every
    pixel value), in numpy for one decoded image on the CPU: torch's element-wise kernels
    share a small image between its threads and wait for each other, which on a busy
    machine costs more than the work."""
    x = pixels.astype(np.float32)
    x /= np.float32(255.0)
    x -= np.asarray(tuple(mean), dtype=np.float32)
    x /= np.asarray(tuple(std), dtype=np.float32)
    return x


def preprocess(img: "PILImage.Image", policy: str = "resize", size: int = 224, *,
               mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
               ) -> "torch.Tensor":
    """RGB image -> normalised float32 tensor ``(3, H, W)`` under ``policy`` (a view of
    ``(H, W, 3)`` memory, as the network's channels-last batches are laid out)."""
    import torch

    img = resize_policy(img, policy, size)
    a = np.asarray(img, dtype=np.uint8)  # H, W, 3
    return torch.from_numpy(normalize_pixels(a, mean, std)).permute(2, 0, 1)


def load_tensor(path: str | os.PathLike, policy: str = "resize", size: int = 224, *,
                max_pixels: int = MAX_PIXELS, mean: Sequence[float] = IMAGENET_MEAN,
                std: Sequence[float] = IMAGENET_STD) -> "torch.Tensor":
    """:func:`load_rgb` then :func:`preprocess`: the network input for one file."""
    return preprocess(load_rgb(path, max_pixels=max_pixels), policy, size, mean=mean, std=std)


#: How long the main process waits for a decoding worker's next images before it gives up
#: (a hung network file system, a stopped worker): far longer than any sane chunk takes.
WORKER_TIMEOUT = 300.0
#: How often (seconds) the main process checks, while it waits, that every worker is alive.
WORKER_POLL = 5.0
#: How worker processes start: from a clean server process (``forkserver``, which imports
#: torch once per session, so later workers start in milliseconds), or ``spawn`` where there
#: is none (Windows). Never ``fork``: it copies a notebook's or a GPU process's threads and
#: their locks, and may deadlock.
WORKER_START = "forkserver"
#: What the fork server imports once, before it forks workers: torch, the slow import.
#: Not simkit: Python 3.11's server ignores the caller's ``sys.path``, so it could import
#: another copy of simkit than the caller's; nor ``__main__``: a script's top level must
#: not run in the server.
WORKER_PRELOAD = ("torch",)


class DecodeWorkerError(SimkitError, RuntimeError):
    """A decoding worker process died or stopped answering; the message says what to do."""


def default_workers() -> int:
    """A sensible number of decoding worker processes for this machine.

    ``min(4, CPUs - 1)``: one CPU stays with the process that runs the network, and beyond
    four workers decoding is no longer what limits a single network; 0 (decode in this
    process) on a one-CPU machine.
    """
    try:
        n = len(os.sched_getaffinity(0))  # the CPUs this process may use (containers)
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    return 0 if n <= 1 else min(4, n - 1)


class DecodeItems:
    """The ``(index, path)`` items of :func:`iter_batches` as a map-style dataset for a
    ``torch.utils.data.DataLoader``; item ``k`` decodes to ``(index, tensor)`` or, for an
    image that cannot be used, ``(index, message)``.

    Plain data and a top-level class, so it pickles into ``spawn``-started workers."""

    def __init__(self, items: "Sequence[tuple[int, str | os.PathLike]]", policy: str,
                 size: int, max_pixels: int, mean: Sequence[float], std: Sequence[float]
                 ) -> None:
        self.items = [(int(i), str(p)) for i, p in items]
        self.args = (policy, size, max_pixels, tuple(mean), tuple(std))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> "tuple[int, torch.Tensor | str]":
        index, path = self.items[k]
        return decode_item(index, path, *self.args)


def decode_item(index: int, path: "str | os.PathLike", policy: str, size: int,
                max_pixels: int, mean: Sequence[float], std: Sequence[float]
                ) -> "tuple[int, torch.Tensor | str]":
    """``(index, network input)`` of one file, or ``(index, message)`` when it cannot be
    used (:class:`ImageError`: the message is the error's text)."""
    try:
        return index, load_tensor(path, policy, size, max_pixels=max_pixels, mean=mean,
                                  std=std)
    except ImageError as e:
        return index, str(e)


def stack_runs(items: "list[tuple[int, torch.Tensor | str]]"
               ) -> "list[tuple[list[int], torch.Tensor | str]]":
    """A DataLoader ``collate_fn``: a worker's decoded items, in order, as runs of equal
    shape stacked into one tensor (one shared-memory transfer per run, not per image)
    and messages of unusable images as they are. Batches are made in the main process."""
    import torch

    runs: list[tuple[list[int], list]] = []
    for index, t in items:
        if isinstance(t, str):
            runs.append(([index], [t]))
        elif runs and not isinstance(runs[-1][1][0], str) and runs[-1][1][0].shape == t.shape:
            runs[-1][0].append(index)
            runs[-1][1].append(t)
        else:
            runs.append(([index], [t]))
    return [(ix, v[0] if isinstance(v[0], str) else torch.stack(v)) for ix, v in runs]


def _decoded_here(items: "Iterable[tuple[int, str | os.PathLike]]", args: tuple
                  ) -> "Iterator[tuple[int, torch.Tensor | str]]":
    for index, path in items:
        yield decode_item(index, path, *args)


def worker_context() -> "multiprocessing.context.BaseContext":
    """The multiprocessing context decoding workers start from (:data:`WORKER_START`)."""
    import multiprocessing

    if WORKER_START not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context(WORKER_START)
    if WORKER_START == "forkserver":
        # takes effect when the server starts (the first time workers are needed)
        ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    return ctx


def _decoded_in_workers(items: "Iterable[tuple[int, str | os.PathLike]]", args: tuple,
                        workers: int, chunk: int
                        ) -> "Iterator[tuple[int, torch.Tensor | str]]":
    """Items decoded by ``workers`` processes, ``chunk`` at a time each, in item order."""
    from torch.utils.data import DataLoader

    data = DecodeItems(list(items), *args)
    if not len(data):
        return
    # the loader checks that its workers are alive only when a wait times out: short waits,
    # repeated, find a dead worker within seconds and a silent one after WORKER_TIMEOUT
    poll = min(WORKER_POLL, WORKER_TIMEOUT)
    loader = DataLoader(data, batch_size=chunk, shuffle=False, num_workers=workers,
                        collate_fn=stack_runs, timeout=poll,
                        multiprocessing_context=worker_context())
    it = iter(loader)
    waited = 0.0
    try:
        while True:
            try:
                decoded = next(it)
            except StopIteration:
                return
            except RuntimeError as e:
                # the loader's own failures; an exception raised by a worker's code is
                # re-raised by the loader as its own type, the worker's traceback in its text
                if not str(e).startswith("DataLoader"):
                    raise
                waited += poll
                timed_out = str(e).startswith("DataLoader timed out")
                if timed_out and waited < WORKER_TIMEOUT:
                    continue  # nothing lost: the loader's state is as before the wait
                why = f"no images for {WORKER_TIMEOUT:g} s (timed out)" if timed_out else e
                raise DecodeWorkerError(
                    f"decoding images in {workers} worker process(es) failed: {why}; rerun "
                    f"with fewer workers (or 0, decoding in this process), check that the "
                    f"image files can be read, and that a script starting workers guards "
                    f"its top level with if __name__ == '__main__':") from e
            waited = 0.0
            for indices, run in decoded:
                if isinstance(run, str):
                    yield indices[0], run
                else:  # views of the run: the main process stacks each batch anew
                    yield from zip(indices, run)
    finally:
        del it  # shuts the worker processes down now, even when the caller stops early


def iter_batches(items: "Iterable[tuple[int, str | os.PathLike]]", *, policy: str = "resize",
                 size: int = 224, batch_size: int = 8, max_pixels: int = MAX_PIXELS,
                 errors: dict | None = None, on_skip: "Callable[[int], None] | None" = None,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 workers: int = 0, pin_memory: bool = False,
                 ) -> "Iterator[tuple[list[int], torch.Tensor]]":
    """Decode and preprocess ``(index, path)`` items into network batches.

    Yields ``(indices, x)`` with ``x`` a channels-last ``(n, 3, H, W)`` tensor of at most
    ``batch_size`` images. Only images of equal shape share a batch (they differ under the
    keep-aspect and native policies). An image that cannot be used is skipped: its message
    goes to ``errors[index]`` and ``on_skip(index)`` is called (e.g. to advance a progress
    bar), so one bad file never stops the others.

    Parameters
    ----------
    workers : int
        Worker processes that decode and preprocess while the caller runs the network
        (:func:`default_workers` is a good value); 0 decodes here. The batches, their
        order and every tensor are the same either way; ``errors`` and ``on_skip`` are
        filled and called in this process, in item order. Inside a daemonic process (a
        Dask worker), which may not start children, decoding stays here.
    pin_memory : bool
        Put each batch in page-locked memory, so that copying it to a CUDA GPU can overlap
        the computation (``x.to(device, non_blocking=True)``); ignored without CUDA.

    Raises
    ------
    DecodeWorkerError
        When a worker process dies (found within :data:`WORKER_POLL` seconds) or sends
        nothing for :data:`WORKER_TIMEOUT` seconds.
    """
    import multiprocessing

    import torch

    if workers < 0:
        raise ValueError(f"workers={workers}: give 0 (decode here) or more processes")
    args = (policy, size, max_pixels, tuple(mean), tuple(std))
    if workers and not multiprocessing.current_process().daemon:
        decoded = _decoded_in_workers(items, args, workers, max(1, batch_size))
    else:
        decoded = _decoded_here(items, args)
    pin = pin_memory and torch.cuda.is_available()
    batch: list[tuple[int, "torch.Tensor"]] = []
    with contextlib.closing(decoded):  # a caller that stops early stops the workers
        for index, t in decoded:
            if isinstance(t, str):
                if errors is not None:
                    errors[index] = t
                if on_skip is not None:
                    on_skip(index)
                continue
            if batch and tuple(batch[0][1].shape) != tuple(t.shape):
                yield _stacked(batch, pin)
                batch = []
            batch.append((index, t))
            if len(batch) >= batch_size:
                yield _stacked(batch, pin)
                batch = []
    if batch:
        yield _stacked(batch, pin)


def _stacked(batch: "list[tuple[int, torch.Tensor]]", pin: bool
             ) -> "tuple[list[int], torch.Tensor]":
    """``(indices, channels-last batch)``, in page-locked memory when ``pin``."""
    import torch

    # stacked as (N, H, W, 3) by numpy (one thread, a plain copy: see normalize_pixels),
    # which is the channels-last layout of (N, 3, H, W)
    x = torch.from_numpy(np.stack([t.permute(1, 2, 0).numpy() for _, t in batch]))
    x = x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    return [i for i, _ in batch], (x.pin_memory() if pin else x)
