"""Gaussian data and Hermite analysis shared by the feature-learning families.

See docs/families/single-index.md, docs/families/three-layer.md, docs/families/hier-poly.md.
"""
