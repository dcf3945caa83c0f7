"""Export of mmattn backbones and detector features to ONNX."""
from .onnx import (DetectorFeatures, build_backbone, build_detector,
                   export_onnx, verify_onnx)

__all__ = ['DetectorFeatures', 'build_backbone', 'build_detector',
           'export_onnx', 'verify_onnx']
