"""Images checked and drawn again as square WebP: pure functions of bytes (no files, no database).

Decoding is defended in depth: only the one format the upload declared (and its bytes showed) is
tried; Pillow's decompression-bomb warning is an error; a side over SIDE_MAX is refused before the
pixels are decoded; and what Pillow raises on bad data becomes UnreadableImage."""

import io
import struct
import warnings
import zlib

from PIL import Image, ImageOps

from .exceptions import UnreadableImage

# Each accepted media type, Pillow's name for its format, and how its bytes begin.
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
SIDE_MAX = 4096
WEBP_QUALITY = 85
WEBP_METHOD = 6  # libwebp's slowest and smallest; an avatar is small, and drawn once
# What Pillow raises on data it cannot decode (UnidentifiedImageError and truncation are OSErrors,
# a broken PNG chunk is a SyntaxError, a bad EXIF block a ValueError or struct.error).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)


def sniffed_type(content: bytes) -> str | None:
    """The accepted media type the bytes begin as, if any."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def square_webps(content: bytes, media_type: str, sizes: tuple[int, ...]) -> dict[int, bytes]:
    """The image upright (its EXIF orientation applied), its centre square, as WebP files of each
    size, with no metadata; UnreadableImage if it cannot be decoded safely. The same bytes give
    the same files."""
    square = _center_square(decoded(content, media_type))
    return {size: _webp(square.resize((size, size), Image.Resampling.LANCZOS)) for size in sizes}


def decoded(content: bytes, media_type: str) -> Image.Image:
    """The image's pixels, upright, in RGB (RGBA if it has transparency)."""
    # catch_warnings changes the process's warning filters: a job worker runs one job at a time.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(content), formats=[FORMATS[media_type]]) as image:
                _check_size(image)
                image.load()
                upright = ImageOps.exif_transpose(image)
                return upright.convert("RGBA" if _has_alpha(upright) else "RGB")
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            raise UnreadableImage(f"The image has too many pixels to decode safely: {error}") from error
        except DECODE_ERRORS as error:
            raise UnreadableImage(f"The image could not be decoded: {error}") from error


def _check_size(image: Image.Image) -> None:
    width, height = image.size
    if width > SIDE_MAX or height > SIDE_MAX:
        raise UnreadableImage(f"The image is {width}x{height} pixels; at most {SIDE_MAX}x{SIDE_MAX} are accepted.")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _center_square(image: Image.Image) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def _webp(image: Image.Image) -> bytes:
    image.info = {}  # no EXIF, ICC profile or XMP carried over: the file holds pixels only
    out = io.BytesIO()
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return out.getvalue()
