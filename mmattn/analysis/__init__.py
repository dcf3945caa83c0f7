"""Analysis of mmattn models: complexity (parameters, MACs, elementwise
work), speed and memory, Grad-CAM and the modules' own attention maps.

Analysis imports the models, never the reverse. The command-line tools are
thin wrappers in ``tools/analysis/`` and ``tools/visualization/``.
"""
