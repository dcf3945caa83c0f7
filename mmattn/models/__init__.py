from . import attention, backbones  # noqa: F401  (registers the models)
