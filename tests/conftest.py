import json
import os.path as osp
from typing import Dict

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

import mmattn  # noqa: F401  (registers every module)
from mmattn.demo import generate_shapes_dataset


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def shapes_data(tmp_path_factory) -> str:
    """A tiny COCO-format shapes dataset (6 train, 3 val images of 96x96)."""
    root = str(tmp_path_factory.mktemp('shapes'))
    generate_shapes_dataset(root, num_train=6, num_val=3, image_size=(96, 96),
                            size_range=(16, 48), seed=1)
    return root


def _outside_coco_split(rng: np.random.Generator, image_dir: str,
                        first_image_id: int, count: int) -> dict:
    """One split of :func:`outside_coco`'s dataset, as a COCO dict."""
    images, annotations = [], []
    for index in range(count):
        image_id = first_image_id + 7 * index
        height, width = 96, 112
        canvas = np.full((height, width, 3), rng.integers(30, 90), np.uint8)
        canvas += rng.integers(0, 25, canvas.shape, dtype=np.uint8)
        for number in range(int(rng.integers(1, 4))):
            category = OUTSIDE_CATEGORIES[int(rng.integers(3))]
            size = int(rng.integers(18, 40))
            top = int(rng.integers(0, height - size))
            left = int(rng.integers(0, width - size))
            mask = np.zeros((height, width), np.uint8)
            if category['name'] == 'disc':
                ys, xs = np.ogrid[:height, :width]
                radius = size / 2
                mask[(ys - top - radius) ** 2 + (xs - left - radius) ** 2
                     <= radius ** 2] = 1
            elif category['name'] == 'square':
                mask[top:top + size, left:left + size] = 1
            else:  # a bar: a third as high as it is wide
                mask[top:top + max(size // 3, 6), left:left + size] = 1
            canvas[mask > 0] = rng.integers(140, 255, 3)
            ys, xs = np.nonzero(mask)
            x0, y0 = int(xs.min()), int(ys.min())
            box = [x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0]
            annotation = dict(
                id=10_000 + 31 * len(annotations), image_id=image_id,
                category_id=category['id'], bbox=box, area=int(mask.sum()),
                attributes=dict(occluded=False))  # an extra key
            if category['name'] == 'square':
                x1, y1 = x0 + box[2], y0 + box[3]
                annotation['segmentation'] = [[x0, y0, x1, y0, x1, y1, x0,
                                               y1]]
            elif number % 2 == 0:
                # Uncompressed RLE: run lengths, column-major, from 0s.
                flat = np.asfortranarray(mask).reshape(-1, order='F')
                changes = np.flatnonzero(np.diff(flat)) + 1
                bounds = np.concatenate([[0], changes, [flat.size]])
                counts = np.diff(bounds).tolist()
                if flat[0] == 1:
                    counts = [0] + counts
                annotation['segmentation'] = dict(size=[height, width],
                                                  counts=counts)
            else:
                rle = mask_utils.encode(np.asfortranarray(mask))
                annotation['segmentation'] = dict(
                    size=rle['size'], counts=rle['counts'].decode('ascii'))
            annotations.append(annotation)
        file_name = f'pic_{image_id:05d}.jpg'
        cv2.imwrite(osp.join(image_dir, file_name), canvas,
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        images.append(dict(id=image_id, file_name=file_name, height=height,
                           width=width, license=1, date_captured=''))
    return dict(info=dict(description='not written by mmattn'),
                licenses=[dict(id=1, name='none')], images=images,
                annotations=annotations, categories=OUTSIDE_CATEGORIES)


#: Category ids that are not 1..K, listed out of id order.
OUTSIDE_CATEGORIES = [dict(id=7, name='disc', supercategory='thing'),
                      dict(id=3, name='square', supercategory='thing'),
                      dict(id=12, name='bar', supercategory='thing')]


@pytest.fixture(scope='session')
def outside_coco(tmp_path_factory) -> Dict[str, str]:
    """A small COCO-format dataset written without mmattn's generator: one
    image folder, train and val files; category ids 7, 3, 12 (in that
    order), no ``iscrowd``, extra keys, polygon, compressed and
    uncompressed RLE masks, image and annotation ids that are not 1..N.
    Returns ``img_dir``, ``train_ann``, ``val_ann``."""
    root = tmp_path_factory.mktemp('outside')
    image_dir = root / 'images'
    image_dir.mkdir()
    rng = np.random.default_rng(5)
    paths = dict(img_dir=str(image_dir))
    for split, first_id, count in (('train', 500, 8), ('val', 900, 4)):
        paths[f'{split}_ann'] = str(root / f'{split}_labels.json')
        with open(paths[f'{split}_ann'], 'w') as f:
            json.dump(_outside_coco_split(rng, str(image_dir), first_id,
                                          count), f)
    return paths
