"""The embedded demo: a synthetic COCO-format shapes dataset."""
from .shapes_dataset import SHAPE_CLASSES, generate_shapes_dataset

__all__ = ['SHAPE_CLASSES', 'generate_shapes_dataset']
