"""Reading images robustly with Pillow and turning them into the SSD's 300x300 input."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import SharekanError

INPUT_SIZE = 300
MAX_PIXELS = 40_000_000  # beyond this a photo is more likely a decompression bomb than a photo
MAX_DECODED_BYTES = 160 * 2**20  # decoded pixels at the file's own bit depth, checked before decoding
MIN_SIDE = 1


def load_image(path: str | Path) -> Image.Image:
    """Open an image file as upright 8-bit RGB, or raise SharekanError with one clear line."""
    path = Path(path)
    if not path.is_file():
        raise SharekanError(f"{path}: no such image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                check_size(image.size, path.name, image.mode)
                image.load()
                return to_rgb(image)
    except SharekanError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        reason = "unknown format" if isinstance(exc, UnidentifiedImageError) else "too many pixels"
        raise SharekanError(f"{path.name}: not a readable image ({reason})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise SharekanError(f"{path.name}: corrupt or truncated image ({exc})") from None


def check_size(size: tuple[int, int], name: str = "image", mode: str = "RGB") -> None:
    """Raise SharekanError for empty images, or ones whose pixels or decoded bytes (at ``mode``'s depth) are too many."""
    width, height = size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise SharekanError(f"{name}: image is empty ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise SharekanError(f"{name}: image is too large ({width}x{height} pixels, limit {MAX_PIXELS:,})")
    decoded = width * height * _bytes_per_pixel(mode)
    if decoded > MAX_DECODED_BYTES:
        raise SharekanError(f"{name}: image is too large to decode ({width}x{height} {mode} pixels take "
                            f"{decoded / 2**20:,.0f} MiB, limit {MAX_DECODED_BYTES / 2**20:,.0f} MiB)")


def _bytes_per_pixel(mode: str) -> int:
    try:
        bands = Image.getmodebands(mode)
    except (KeyError, ValueError):
        return 4
    return bands * (2 if mode.startswith("I;16") else 4 if mode in ("I", "F") else 1)


def to_rgb(image: Image.Image) -> Image.Image:
    """Apply the EXIF rotation and convert any mode (CMYK, 16-bit, palette, alpha) to 8-bit RGB."""
    check_size(image.size)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16/32-bit greyscale: Pillow's convert('RGB') clips instead of rescaling to 8 bits.
        # Rescaled in float32, in place: float64 copies of a large 16-bit scan take gigabytes.
        values = np.asarray(image).astype(np.float32)
        low = float(values.min()) if image.mode == "F" else 0.0
        span = float(values.max()) - low
        values -= low
        values *= np.float32(255.0 / span) if span > 0 else np.float32(0.0)
        image = Image.fromarray(np.clip(np.rint(values, out=values), 0, 255, out=values).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite on white so transparent areas do not turn into arbitrary colours.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


# OpenCV's INTER_LINEAR on 8-bit images, which the reference pipeline (blobFromImage) applies to the full-size
# photo: half-pixel source coordinates computed in float32, no antialiasing (each output pixel reads its 2 x 2
# nearest source pixels), weights rounded to 11 bits (2048), and the vertical pass rounded the way OpenCV's
# vectorised loop does it (each product shifted by 4 + 16 bits, then (sum + 2) >> 2). Checked pixel-equal to
# cv2.resize by tests/test_detection_port.py.
_COEF_SCALE = 2048


def _linear_taps(out_size: int, in_size: int, columns: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output index along one axis: source indices (i0, i1) and their 11-bit weights (w0, w1).

    Past the edges OpenCV repeats the edge pixel; along columns it also zeroes the fraction, along rows it keeps
    the fraction and reads the edge row twice (the weights' rounding then differs, so both are followed).
    """
    scale = 1.0 / (out_size / in_size)
    position = ((np.arange(out_size) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(position).astype(np.int64)
    fraction = position - i0.astype(np.float32)
    if columns:
        fraction[(i0 < 0) | (i0 >= in_size - 1)] = 0.0
        i0 = np.clip(i0, 0, in_size - 1)
    w0 = np.rint((np.float32(1.0) - fraction) * np.float32(_COEF_SCALE)).astype(np.int64)
    w1 = np.rint(fraction * np.float32(_COEF_SCALE)).astype(np.int64)
    return np.clip(i0, 0, in_size - 1), np.clip(i0 + 1, 0, in_size - 1), w0, w1


def resize_bilinear(pixels: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """(H, W, C) uint8 -> (size, size, C) uint8, equal to ``cv2.resize(pixels, (size, size), INTER_LINEAR)``."""
    rows0, rows1, v0, v1 = _linear_taps(size, pixels.shape[0], columns=False)
    cols0, cols1, h0, h1 = _linear_taps(size, pixels.shape[1], columns=True)
    h0, h1 = h0[None, :, None], h1[None, :, None]

    def horizontal(rows: np.ndarray) -> np.ndarray:  # (size, size, C) int64, scaled by 2048
        picked = pixels[rows]
        return picked[:, cols0].astype(np.int64) * h0 + picked[:, cols1].astype(np.int64) * h1

    top, bottom = horizontal(rows0), horizontal(rows1)
    total = ((v0[:, None, None] * (top >> 4)) >> 16) + ((v1[:, None, None] * (bottom >> 4)) >> 16)
    return ((total + 2) >> 2).clip(0, 255).astype(np.uint8)


def resize_for_ssd(image: Image.Image) -> Image.Image:
    """Stretch an RGB image to 300x300 (SSD ignores the aspect ratio) as the reference does: plain bilinear,
    no antialiasing (see ``resize_bilinear``)."""
    return Image.fromarray(resize_bilinear(np.asarray(image)))


def to_input(image: Image.Image) -> torch.Tensor:
    """Return the graph's input for one RGB image: (1, 3, 300, 300), RGB scaled x * 2/255 - 1."""
    pixels = np.asarray(resize_for_ssd(image), dtype=np.float32)
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0) * (2.0 / 255.0) - 1.0
