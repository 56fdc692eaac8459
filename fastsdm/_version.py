"""fastsdm's version, in a leaf module: modules read it without importing the package's face."""

__version__ = "0.1.0"
