"""PICNN: a pathway towards interpretable convolutional neural networks (Guo et al., AAAI 2024), reproduced

Modules:

- `picnn.metrics`: How class-specific a layer's filters are: CSG's MIS, its ceiling, and an exact, vectorised torch reimplementation of scikit-learn's estimator."""

__version__ = "0.1.0"
