"""Local-feature baselines: SIFT and ORB keypoints, similarity = number of good matches.

The retrieval paper (Mtasher & msad) compares CNN features against SIFT and SURF; this
module reruns that comparison with OpenCV (``pip install 'simkit-similarity[retrieval]'``, which
installs ``opencv-python-headless``):

* ``sift`` — Lowe's SIFT (128-dim float descriptors, L2 distance), in OpenCV's main build
  since its patent expired (2020).
* ``orb`` — ORB (FAST keypoints + rotated BRIEF, 256-bit binary descriptors, Hamming
  distance): free and fast.
* SURF is **not** offered: it is patented and lives only in opencv-contrib built with
  ``OPENCV_ENABLE_NONFREE``, which the pip wheels are not. ORB is the usual free stand-in.

Each image is decoded safely (:func:`simkit.features.images.load_rgb`), converted to grey and
resized so its longer side is ``size`` pixels (default 256: keypoints are found at a
comparable scale in every image and matching stays fast). Two images are compared by
matching every descriptor of one to its two nearest in the other (brute force) and
keeping a match when the nearest is clearly nearer than the second (Lowe's ratio test,
``ratio = 0.75``). The ratio test is not symmetric, so the similarity of a pair is the
mean of the two directions' counts. A *distance* for ranking is ``1 / (1 + matches)``.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from simkit.errors import missing_extra

if TYPE_CHECKING:
    import pandas as pd

    from simkit.study.model import Study

__all__ = ["DEFAULT_SIZE", "DEFAULT_RATIO", "DEFAULT_MAX_FEATURES",
           "require_cv2", "descriptors", "good_matches", "match_matrix", "match_counts",
           "matches_to_distance", "local_choices"]

DEFAULT_SIZE = 256
DEFAULT_RATIO = 0.75
DEFAULT_MAX_FEATURES = 500


def require_cv2():
    """Import OpenCV or say how to install it."""
    try:
        import cv2
    except ImportError as e:
        raise missing_extra("the sift and orb methods (OpenCV)", "retrieval", e) from None
    return cv2


def _local_names() -> list[str]:
    from simkit.methods.registry import family_methods
    return [m.name for m in family_methods("local")]


def _check_method(method: str) -> None:
    from simkit.methods.registry import get_method
    if get_method(method).family != "local":  # get_method explains SURF and unknown names
        raise ValueError(f"{method!r} is not a local-feature method; use "
                         f"{' or '.join(map(repr, _local_names()))}")


def _grey(image, size: int) -> np.ndarray:
    """A path, PIL image or H x W x 3 uint8 array -> uint8 grey, longer side = size."""
    from PIL import Image

    from simkit.features.images import load_rgb

    if isinstance(image, (str, os.PathLike)):
        image = load_rgb(image)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    w, h = image.size
    scale = size / max(w, h)
    if scale != 1:
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                             Image.Resampling.BILINEAR)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def descriptors(image, method: str = "sift", *, size: int = DEFAULT_SIZE,
                max_features: int = DEFAULT_MAX_FEATURES) -> np.ndarray:
    """Keypoint descriptors of one image (a path, a PIL image or an RGB uint8 array).

    ``sift``: ``K x 128`` float32; ``orb``: ``K x 32`` uint8 (256 bits). At most
    ``max_features`` keypoints (the strongest); ``K`` may be 0 for a flat image.
    """
    _check_method(method)
    cv2 = require_cv2()
    grey = _grey(image, size)
    if method == "sift":
        detector = cv2.SIFT_create(nfeatures=max_features)
    else:  # edgeThreshold/patchSize 31 is ORB's default; small images need a smaller one
        edge = max(3, min(31, min(grey.shape) // 4))
        detector = cv2.ORB_create(nfeatures=max_features, edgeThreshold=edge,
                                  patchSize=edge)
    _, desc = detector.detectAndCompute(grey, None)
    if desc is None:
        width, dtype = (128, np.float32) if method == "sift" else (32, np.uint8)
        return np.zeros((0, width), dtype)
    return desc


def _matcher(method: str):
    cv2 = require_cv2()
    return cv2.BFMatcher(cv2.NORM_L2 if method == "sift" else cv2.NORM_HAMMING)


def good_matches(d1: np.ndarray, d2: np.ndarray, method: str = "sift", *,
                 ratio: float = DEFAULT_RATIO, matcher=None) -> int:
    """How many descriptors of ``d1`` pass Lowe's ratio test against ``d2``: the nearest
    descriptor of ``d2`` is nearer than ``ratio`` times the second nearest."""
    _check_method(method)
    if len(d1) == 0 or len(d2) < 2:
        return 0
    m = matcher or _matcher(method)
    count = 0
    for pair in m.knnMatch(d1, d2, k=2):
        if len(pair) == 2 and pair[0].distance < ratio * pair[1].distance:
            count += 1
    return count


def match_matrix(desc: Sequence[np.ndarray], method: str = "sift", *,
                 queries: Sequence[np.ndarray] | None = None, ratio: float = DEFAULT_RATIO,
                 progress: bool = True) -> np.ndarray:
    """Good-match counts between descriptor sets (symmetric mean of both directions).

    Without ``queries``: ``N x N`` among ``desc`` (the diagonal is each image with itself);
    with ``queries``: ``Q x N``. float64.
    """
    from tqdm.auto import tqdm

    _check_method(method)
    m = _matcher(method)

    def both(a: np.ndarray, b: np.ndarray) -> float:
        return (good_matches(a, b, method, ratio=ratio, matcher=m)
                + good_matches(b, a, method, ratio=ratio, matcher=m)) / 2

    if queries is None:
        n = len(desc)
        out = np.zeros((n, n))
        pairs = [(i, j) for i in range(n) for j in range(i, n)]
        for i, j in tqdm(pairs, desc=f"{method} matching", unit="pair",
                         disable=not progress, mininterval=1.0):
            out[i, j] = out[j, i] = both(desc[i], desc[j])
        return out
    out = np.zeros((len(queries), len(desc)))
    for qi, q in enumerate(tqdm(queries, desc=f"{method} matching", unit="query",
                                disable=not progress)):
        for j, d in enumerate(desc):
            out[qi, j] = both(q, d)
    return out


def match_counts(images: Sequence, method: str = "sift", *,
                 queries: Sequence | None = None, size: int = DEFAULT_SIZE,
                 max_features: int = DEFAULT_MAX_FEATURES, ratio: float = DEFAULT_RATIO,
                 progress: bool = True) -> np.ndarray:
    """Good-match counts of images (paths, PIL images or RGB arrays): ``N x N`` among
    ``images`` or ``Q x N`` from ``queries`` to ``images`` (see :func:`match_matrix`).

    N² pairs at a few ms each: fine for hundreds of images, slow for thousands — the
    retrieval paper's point about SIFT's cost.
    """
    from tqdm.auto import tqdm

    _check_method(method)
    desc = [descriptors(im, method, size=size, max_features=max_features)
            for im in tqdm(images, desc=f"{method} keypoints", unit="img",
                           disable=not progress)]
    qdesc = None if queries is None else [
        descriptors(q, method, size=size, max_features=max_features) for q in queries]
    return match_matrix(desc, method, queries=qdesc, ratio=ratio, progress=progress)


def matches_to_distance(counts: np.ndarray) -> np.ndarray:
    """``1 / (1 + matches)``: more good matches = nearer (a distance in (0, 1])."""
    return 1.0 / (1.0 + np.asarray(counts, dtype=np.float64))


def local_choices(study: "Study", methods: Iterable[str] | None = None, *,
                  size: int = DEFAULT_SIZE, max_features: int = DEFAULT_MAX_FEATURES,
                  ratio: float = DEFAULT_RATIO, progress: bool = True
                  ) -> "tuple[pd.DataFrame, pd.DataFrame]":
    """Each local-feature method's choice per question: the pair with the most good
    matches (distance ``1 / (1 + matches)``, ties to the first pair in PAIRS order).

    ``methods``: default both. Returns ``(choices, pair_distances)`` in the layout of
    :func:`simkit.methods.choices.choose_from_features`, so they join the other methods'
    choices.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from simkit.study.model import PAIRS, pair_letters

    methods = _local_names() if methods is None else list(dict.fromkeys(methods))
    for method in methods:
        _check_method(method)
    choice_rows, dist_rows = [], []
    for method in methods:
        cache: dict[str, np.ndarray] = {}
        matcher = _matcher(method)

        def desc(image_id: str) -> np.ndarray:
            if image_id not in cache:
                cache[image_id] = descriptors(study.image_path(image_id), method,
                                              size=size, max_features=max_features)
            return cache[image_id]

        for qid in tqdm([str(q) for q in study.questions["question_id"]],
                        desc=f"{method} choices", unit="question", disable=not progress):
            five = [desc(i) for i in study.question_images(qid)]
            d = []
            for pair in PAIRS:
                i, j = pair_letters(pair)
                m = (good_matches(five[i], five[j], method, ratio=ratio, matcher=matcher)
                     + good_matches(five[j], five[i], method, ratio=ratio,
                                    matcher=matcher)) / 2
                d.append(float(matches_to_distance(m)))
            choice_rows.append((qid, method, PAIRS[int(np.argmin(d))]))
            dist_rows.extend((qid, method, p, x) for p, x in zip(PAIRS, d))
    return (pd.DataFrame(choice_rows, columns=["question_id", "method", "choice"]),
            pd.DataFrame(dist_rows, columns=["question_id", "method", "pair", "distance"]))
