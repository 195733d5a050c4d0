"""Task metrics through real libraries (scikit-learn)."""
from .digits import DIGITS_SPLIT_SEED, digits_accuracy, load_digits_split

__all__ = ["DIGITS_SPLIT_SEED", "digits_accuracy", "load_digits_split"]
