"""Gaussian data and Hermite analysis shared by the feature-learning families (PAPERS.md §5-7)."""
