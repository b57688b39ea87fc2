"""Dependency resolution within the index: pins, trees, and why a requirement cannot be met."""
