"""Pictures of a detector's predictions beside the ground truth, large
enough to read.

Each row is one image, upscaled (the shapes are 128×128): ground truth on
the left, predictions above a score threshold on the right, each instance
drawn as its mask (translucent), its box and a label (class, and score for
predictions). Labels are placed where they overlap no other label of the
panel (above the box, below it, inside it, then further down), and a
caption row names the two columns.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

#: Label text style (OpenCV Hershey font).
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.5
CAPTION_HEIGHT = 30
GAP = 8

Box = Tuple[int, int, int, int]  # x1, y1, x2, y2


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_label(box: Box, size: Tuple[int, int], bounds: Tuple[int, int],
                taken: List[Box]) -> Box:
    """Where a label of ``size`` (w, h) goes for ``box`` in a panel of
    ``bounds`` (w, h): the first of above, below, inside the box, then
    lower rows, that stays in the panel and overlaps no label in ``taken``
    (which it joins)."""
    width, height = size
    x = min(max(box[0], 0), max(bounds[0] - width, 0))
    candidates = [box[1] - height - 1, box[3] + 1, box[1] + 1]
    candidates += [box[1] + 1 + k * (height + 1) for k in range(1, 40)]
    candidates += [k * (height + 1) for k in range(40)]
    for top in candidates:
        spot = (x, top, x + width, top + height)
        if top >= 0 and spot[3] <= bounds[1] and not any(
                _overlaps(spot, other) for other in taken):
            taken.append(spot)
            return spot
    spot = (x, max(box[1], 0), x + width, max(box[1], 0) + height)
    taken.append(spot)
    return spot


def draw_instances(image: np.ndarray, boxes: np.ndarray,
                   labels: Sequence[int], classes: Sequence[str],
                   palette: Sequence[Tuple[int, int, int]],
                   masks: Optional[np.ndarray] = None,
                   scores: Optional[Sequence[float]] = None,
                   scale: float = 1.0) -> np.ndarray:
    """``image`` (RGB, already upscaled by ``scale``) with instances whose
    ``boxes`` (x1, y1, x2, y2) and ``masks`` (N, h, w) are in original
    pixels; ``scores`` add the score to each label."""
    canvas = image.astype(np.float32)
    height, width = image.shape[:2]
    order = np.argsort(-np.asarray(scores)) if scores is not None else \
        np.arange(len(labels))
    if masks is not None:
        for index in order:
            mask = cv2.resize(masks[index].astype(np.uint8), (width, height),
                              interpolation=cv2.INTER_NEAREST) > 0
            colour = np.array(palette[labels[index]], dtype=np.float32)
            canvas[mask] = 0.55 * canvas[mask] + 0.45 * colour
    canvas = canvas.astype(np.uint8)
    taken: List[Box] = []
    for index in order:
        colour = tuple(int(c) for c in palette[labels[index]])
        box = tuple(int(round(v * scale)) for v in boxes[index])
        cv2.rectangle(canvas, box[:2], box[2:], colour, 2)
        text = classes[labels[index]]
        if scores is not None:
            text += f' {scores[index]:.2f}'
        (text_width, text_height), baseline = cv2.getTextSize(
            text, FONT, FONT_SCALE, 1)
        spot = place_label(box, (text_width + 4, text_height + baseline + 4),
                           (width, height), taken)
        cv2.rectangle(canvas, spot[:2], (spot[2] - 1, spot[3] - 1), colour,
                      -1)
        luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        cv2.putText(canvas, text, (spot[0] + 2, spot[3] - baseline - 2),
                    FONT, FONT_SCALE,
                    (0, 0, 0) if luminance > 140 else (255, 255, 255), 1,
                    cv2.LINE_AA)
    return canvas


def _caption(text: str, width: int) -> np.ndarray:
    strip = np.full((CAPTION_HEIGHT, width, 3), 255, np.uint8)
    (text_width, text_height), _ = cv2.getTextSize(text, FONT, 0.6, 1)
    cv2.putText(strip, text, ((width - text_width) // 2,
                              (CAPTION_HEIGHT + text_height) // 2), FONT, 0.6,
                (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def upscale_factor(shape: Tuple[int, int], target: int = 384) -> int:
    """The integer factor that brings the longer side near ``target``."""
    return max(1, int(round(target / max(shape))))


def side_by_side(rows: Sequence[Tuple[np.ndarray, np.ndarray]],
                 captions: Tuple[str, str]) -> np.ndarray:
    """Pairs of equally tall RGB panels, a caption above each column, rows
    stacked with white gaps."""
    width = max(left.shape[1] for left, _ in rows)
    blank = np.full((GAP, 2 * width + GAP, 3), 255, np.uint8)
    parts = [np.concatenate([_caption(captions[0], width),
                             np.full((CAPTION_HEIGHT, GAP, 3), 255, np.uint8),
                             _caption(captions[1], width)], axis=1)]
    for left, right in rows:
        pad = [np.full((left.shape[0], width - p.shape[1], 3), 255, np.uint8)
               for p in (left, right)]
        parts += [blank, np.concatenate(
            [left, pad[0], np.full((left.shape[0], GAP, 3), 255, np.uint8),
             right, pad[1]], axis=1)]
    return np.concatenate(parts, axis=0)
