"""Deterministic, streaming, labelled access-log generator for anti-scraping work.

>>> sorted(SCENARIOS)
['default', 'large', 'small']
"""

from .engine import generate
from .scenarios import KINDS, SCENARIOS

__all__ = ["KINDS", "SCENARIOS", "generate"]
