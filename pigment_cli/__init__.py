"""Pigment CLI: the data-governance command line of the Pigment.lab clinic."""

__version__ = "0.3.0"
