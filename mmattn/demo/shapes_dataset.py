"""A small synthetic COCO-format instance-segmentation dataset of shapes.

Images show 1-``max_objects`` filled shapes of random colour, size and
position on a noisy, shaded background. Shapes may overlap: a later shape
occludes earlier ones, so each instance's mask is its *visible* part. A fully
visible instance is annotated with its polygon, an occluded one with RLE, as
in COCO; instances left with too little visible area are dropped. Everything
is deterministic given the seed.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

SHAPE_CLASSES = ('rectangle', 'ellipse', 'triangle', 'star')
MIN_VISIBLE_FRACTION = 0.4


def _shape_polygon(kind: str, rng: np.random.Generator, size: int,
                   image_size: Tuple[int, int]) -> np.ndarray:
    """Vertices (N, 2) in pixel coordinates of one randomly placed shape."""
    height, width = image_size
    half = size / 2
    cx = rng.uniform(half, width - half)
    cy = rng.uniform(half, height - half)
    if kind == 'rectangle':
        w, h = half * rng.uniform(0.5, 1.0), half * rng.uniform(0.5, 1.0)
        points = [(-w, -h), (w, -h), (w, h), (-w, h)]
    elif kind == 'ellipse':
        a, b = half * rng.uniform(0.6, 1.0), half * rng.uniform(0.6, 1.0)
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        points = np.stack([a * np.cos(angles), b * np.sin(angles)], 1)
    elif kind == 'triangle':
        angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2, 4]) * np.pi / 3
        points = np.stack([half * np.cos(angles), half * np.sin(angles)], 1)
    elif kind == 'star':
        angles = rng.uniform(0, 2 * np.pi) + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, half, half * 0.45)
        points = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    else:
        raise ValueError(f'unknown shape kind {kind!r}; known: {SHAPE_CLASSES}')
    return np.asarray(points, dtype=np.float64) + (cx, cy)


def _background(rng: np.random.Generator,
                image_size: Tuple[int, int]) -> np.ndarray:
    height, width = image_size
    base = rng.uniform(40, 215, size=3)
    shade = np.linspace(-30, 30, width)[None, :, None] * rng.uniform(-1, 1)
    noise = rng.normal(0, 18, size=(height, width, 3))
    return np.clip(base + shade + noise, 0, 255)


def _render_image(rng: np.random.Generator, image_size: Tuple[int, int],
                  max_objects: int, size_range: Tuple[int, int]):
    image = _background(rng, image_size)
    instance_map = np.zeros(image_size, dtype=np.int32)
    shapes = []
    for index in range(1, rng.integers(1, max_objects + 1) + 1):
        label = int(rng.integers(len(SHAPE_CLASSES)))
        size = int(rng.integers(size_range[0], size_range[1] + 1))
        polygon = _shape_polygon(SHAPE_CLASSES[label], rng, size, image_size)
        filled = np.zeros(image_size, dtype=np.uint8)
        cv2.fillPoly(filled, [np.round(polygon).astype(np.int32)], 1)
        colour = rng.uniform(0, 255, size=3)
        image[filled > 0] = colour
        instance_map[filled > 0] = index
        shapes.append((index, label, polygon, int(filled.sum())))
    return image.astype(np.uint8), instance_map, shapes


def _annotations(instance_map: np.ndarray, shapes, image_id: int,
                 next_id: int) -> List[Dict]:
    annotations = []
    for index, label, polygon, full_area in shapes:
        visible = (instance_map == index).astype(np.uint8)
        area = int(visible.sum())
        if full_area == 0 or area < MIN_VISIBLE_FRACTION * full_area:
            continue
        ys, xs = np.nonzero(visible)
        x0, y0 = float(xs.min()), float(ys.min())
        bbox = [x0, y0, float(xs.max()) + 1 - x0, float(ys.max()) + 1 - y0]
        if area == full_area:
            segmentation = [polygon.reshape(-1).round(2).tolist()]
        else:
            rle = mask_utils.encode(np.asfortranarray(visible))
            segmentation = dict(size=rle['size'],
                                counts=rle['counts'].decode('ascii'))
        annotations.append(dict(
            id=next_id + len(annotations), image_id=image_id,
            category_id=label + 1, bbox=bbox, area=float(area),
            segmentation=segmentation, iscrowd=0))
    return annotations


def _write_split(root: str, split: str, num_images: int,
                 rng: np.random.Generator, image_size: Tuple[int, int],
                 max_objects: int, size_range: Tuple[int, int]) -> str:
    image_dir = osp.join(root, split)
    os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        image, instance_map, shapes = _render_image(
            rng, image_size, max_objects, size_range)
        file_name = f'{image_id:06d}.png'
        cv2.imwrite(osp.join(image_dir, file_name), image[..., ::-1])
        images.append(dict(id=image_id, file_name=file_name,
                           height=image_size[0], width=image_size[1]))
        annotations += _annotations(instance_map, shapes, image_id,
                                    len(annotations) + 1)
    categories = [dict(id=i + 1, name=name, supercategory='shape')
                  for i, name in enumerate(SHAPE_CLASSES)]
    ann_file = osp.join(root, 'annotations', f'{split}.json')
    os.makedirs(osp.dirname(ann_file), exist_ok=True)
    with open(ann_file, 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=categories), f)
    return ann_file


def generate_shapes_dataset(root: str,
                            num_train: int = 1000,
                            num_val: int = 100,
                            image_size: Sequence[int] = (128, 128),
                            max_objects: int = 3,
                            size_range: Sequence[int] = (24, 64),
                            seed: int = 0) -> Dict[str, str]:
    """Write ``root/{train,val}/*.png`` and ``root/annotations/{split}.json``.

    Args:
        root: Output folder (created if missing).
        num_train, num_val: Number of images per split.
        image_size: (height, width) of every image.
        max_objects: Each image holds 1 to ``max_objects`` shapes.
        size_range: Inclusive range of a shape's extent in pixels.
        seed: Seed of the whole dataset; equal seeds give equal files.

    Returns:
        The annotation file of each split, keyed by split name.
    """
    if min(size_range) < 4 or max(size_range) > min(image_size):
        raise ValueError(
            f'generate_shapes_dataset: size_range={tuple(size_range)} is '
            f'invalid; sizes must lie in [4, min(image_size)='
            f'{min(image_size)}]')
    rng = np.random.default_rng(seed)
    return {
        split: _write_split(root, split, count, rng, tuple(image_size),
                            max_objects, tuple(size_range))
        for split, count in (('train', num_train), ('val', num_val))
    }
