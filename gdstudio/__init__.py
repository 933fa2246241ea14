"""gdstudio: a desktop studio for watching, comparing and explaining gradient-descent optimizers."""

__version__ = "0.1.0"
