"""Separators: one module per method, all under the contract in :mod:`musicsep.separators.base`."""

from musicsep.separators.base import METHODS, Separator, get_separator

__all__ = ["METHODS", "Separator", "get_separator"]
