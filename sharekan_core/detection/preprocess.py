"""Reading images robustly with Pillow and turning them into the SSD's 300x300 input."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import SharekanError

INPUT_SIZE = 300
MAX_PIXELS = 100_000_000  # beyond this a photo is more likely a decompression bomb than a photo
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
                check_size(image.size, path.name)
                image.load()
                return to_rgb(image)
    except SharekanError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SharekanError(f"{path.name}: not a readable image ({type(exc).__name__})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise SharekanError(f"{path.name}: corrupt or truncated image ({exc})") from None


def check_size(size: tuple[int, int], name: str = "image") -> None:
    """Raise SharekanError for empty or absurdly large images."""
    width, height = size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise SharekanError(f"{name}: image is empty ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise SharekanError(f"{name}: image is too large ({width}x{height} pixels, limit {MAX_PIXELS:,})")


def to_rgb(image: Image.Image) -> Image.Image:
    """Apply the EXIF rotation and convert any mode (CMYK, 16-bit, palette, alpha) to 8-bit RGB."""
    check_size(image.size)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit greyscale: Pillow's convert('RGB') clips instead of rescaling to 8 bits.
        values = np.asarray(image, dtype=np.float64)
        top = values.max() if values.max() > 0 else 1.0
        image = Image.fromarray((values * (255.0 / top)).round().astype(np.uint8))
    elif image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        span = float(values.max() - values.min()) or 1.0
        image = Image.fromarray(((values - values.min()) * (255.0 / span)).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite on white so transparent areas do not turn into arbitrary colours.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def resize_for_ssd(image: Image.Image) -> Image.Image:
    """Stretch an RGB image to 300x300 (SSD ignores the aspect ratio) with bilinear filtering."""
    return image.resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR)


def to_input(image: Image.Image) -> torch.Tensor:
    """Return the graph's input for one RGB image: (1, 3, 300, 300), RGB scaled x * 2/255 - 1."""
    pixels = np.asarray(resize_for_ssd(image), dtype=np.float32)
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0) * (2.0 / 255.0) - 1.0
