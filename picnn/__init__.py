"""PICNN: a pathway towards interpretable convolutional neural networks (Guo et al., AAAI 2024), reproduced"""

__version__ = "0.1.0"

from . import timm_models   # registers the `timm:` prefix with picnn.models (timm itself is imported only when used)
