"""PICNN: a pathway towards interpretable convolutional neural networks (Guo et al., AAAI 2024), reproduced"""

__version__ = "0.1.0"
