"""Small synthetic pixel data for the DICOM generator, and text burned into it.

Images are cheap numpy phantoms (ellipses, gradients, speckle) so a study costs microseconds,
not a renderer. Burned-in text uses Pillow's built-in default font (no download, works
offline) drawn without anti-aliasing, so the exact pixels a text occupies can be re-derived
by ``text_mask`` and checked against the PHI manifest's ``pixels[frame]:x,y,w,h`` boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

# Margin kept free around burned-in text, in pixels.
TEXT_MARGIN = 2


@lru_cache(maxsize=8)
def _grid(rows: int, columns: int) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Normalised coordinates in [-1, 1] (y down, x right), cached per image size."""
    ys = np.linspace(-1.0, 1.0, rows, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, columns, dtype=np.float32)[None, :]
    return np.broadcast_to(ys, (rows, columns)), np.broadcast_to(xs, (rows, columns))


def _ellipse(
    rows: int, columns: int, cx: float, cy: float, rx: float, ry: float
) -> NDArray[np.bool_]:
    ys, xs = _grid(rows, columns)
    inside: NDArray[np.bool_] = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    return inside


def ct_slice(size: int, z: float, noise: np.random.Generator) -> NDArray[np.uint16]:
    """A chest-like axial slice as stored values (HU + 1024, 12 bits); ``z`` in [0, 1]."""
    hu = np.full((size, size), -1000.0, dtype=np.float32)
    body_scale = 0.85 + 0.1 * np.sin(np.pi * z)
    hu[_ellipse(size, size, 0.0, 0.05, 0.9 * body_scale, 0.7 * body_scale)] = 40.0
    lung_ry = 0.45 * (0.6 + 0.4 * np.sin(np.pi * z))
    hu[_ellipse(size, size, -0.4, 0.0, 0.3, lung_ry)] = -820.0
    hu[_ellipse(size, size, 0.4, 0.0, 0.3, lung_ry)] = -820.0
    hu[_ellipse(size, size, 0.0, 0.5, 0.12, 0.12)] = 700.0  # vertebra
    hu[_ellipse(size, size, 0.05, -0.1, 0.18, 0.15)] = 45.0 + 10.0 * z  # heart
    hu += noise.normal(0.0, 12.0, hu.shape).astype(np.float32)
    stored: NDArray[np.uint16] = np.clip(hu + 1024.0, 0, 4095).astype(np.uint16)
    return stored


def mr_slice(size: int, z: float, noise: np.random.Generator) -> NDArray[np.uint16]:
    """A head-like slice, 12-bit magnitude with Rician-looking noise."""
    signal = np.zeros((size, size), dtype=np.float32)
    scale = 0.75 + 0.2 * np.sin(np.pi * z)
    signal[_ellipse(size, size, 0.0, 0.0, 0.8 * scale, 0.9 * scale)] = 900.0  # scalp
    signal[_ellipse(size, size, 0.0, 0.0, 0.7 * scale, 0.8 * scale)] = 1600.0  # white matter
    signal[_ellipse(size, size, -0.15, 0.0, 0.08, 0.3 * scale)] = 2600.0  # ventricles
    signal[_ellipse(size, size, 0.15, 0.0, 0.08, 0.3 * scale)] = 2600.0
    signal += np.abs(noise.normal(0.0, 40.0, signal.shape)).astype(np.float32)
    return np.clip(signal, 0, 4095).astype(np.uint16)


def radiograph(size: int, noise: np.random.Generator, invert: bool) -> NDArray[np.uint16]:
    """A projection image: soft-tissue gradient, two lung fields, 12 bits.

    ``invert`` gives MONOCHROME1 data (high values display dark).
    """
    ys, xs = _grid(size, size)
    image = 2600.0 - 900.0 * (xs**2) - 300.0 * ys
    image[_ellipse(size, size, -0.4, -0.1, 0.28, 0.55)] -= 1500.0
    image[_ellipse(size, size, 0.4, -0.1, 0.28, 0.55)] -= 1500.0
    image = image + noise.normal(0.0, 25.0, image.shape)
    if invert:
        image = 4095.0 - image
    return np.clip(image, 0, 4095).astype(np.uint16)


def ultrasound_frames(size: int, frames: int, noise: np.random.Generator) -> NDArray[np.uint8]:
    """B-mode sector frames ``(frames, rows, cols)``, 8 bits, speckle that moves per frame."""
    ys, xs = _grid(size, size)
    radius = np.sqrt(xs**2 + (ys + 1.0) ** 2)
    in_sector = (radius < 1.9) & (np.abs(xs) < (ys + 1.0) * 0.7)
    out = np.zeros((frames, size, size), dtype=np.uint8)
    for frame in range(frames):
        speckle = noise.rayleigh(40.0, (size, size))
        wall = 90.0 * np.exp(-(((radius - 1.1 - 0.05 * np.sin(frame)) / 0.08) ** 2))
        out[frame] = np.clip((speckle + wall) * in_sector, 0, 255).astype(np.uint8)
    return out


def secondary_capture(size: int, noise: np.random.Generator) -> NDArray[np.uint8]:
    """An RGB screen capture ``(rows, cols, 3)``: colour gradient plus a noisy panel."""
    ys, xs = _grid(size, size)
    rgb = np.empty((size, size, 3), dtype=np.uint8)
    rgb[..., 0] = ((xs + 1.0) * 100).astype(np.uint8)
    rgb[..., 1] = ((ys + 1.0) * 80).astype(np.uint8)
    rgb[..., 2] = 60
    panel = _ellipse(size, size, 0.2, 0.3, 0.5, 0.4)
    rgb[panel, 2] = noise.integers(120, 200, int(panel.sum()), dtype=np.uint8)
    return rgb


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default()


@dataclass(frozen=True, slots=True)
class BurnedText:
    """One line of text burned into a frame, with its bounding box in pixels."""

    text: str
    x: int
    y: int
    width: int
    height: int


def text_mask(text: str, rows: int, columns: int, x: int, y: int) -> NDArray[np.bool_]:
    """Pixels that ``text`` drawn at ``(x, y)`` covers (no anti-aliasing, clipped)."""
    canvas = Image.new("1", (columns, rows), 0)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"
    draw.text((x, y), text, fill=1, font=_font())
    return np.asarray(canvas, dtype=bool)


@lru_cache(maxsize=4096)
def _glyph_box(text: str) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` of ``text`` drawn with its anchor at the origin."""
    canvas = ImageDraw.Draw(Image.new("1", (1, 1), 0))
    x0, y0, x1, y1 = canvas.textbbox((0, 0), text, font=_font())
    return int(x0), int(y0), int(x1), int(y1)


def anchor_of(item: BurnedText) -> tuple[int, int]:
    """The drawing anchor that puts ``item``'s glyph box at ``(item.x, item.y)``."""
    x0, y0, _, _ = _glyph_box(item.text)
    return item.x - x0, item.y - y0


def layout_text(lines: list[str], rows: int, columns: int, top: bool) -> list[BurnedText]:
    """Place ``lines`` at the top- or bottom-left corner; drop lines that do not fit."""
    boxes = [_glyph_box(line) for line in lines]
    heights = [y1 - y0 for _, y0, _, y1 in boxes]
    y = TEXT_MARGIN if top else rows - TEXT_MARGIN - sum(h + 1 for h in heights)
    placed: list[BurnedText] = []
    for line, (x0, _, x1, _), height in zip(lines, boxes, heights, strict=True):
        width = x1 - x0
        if width <= columns - 2 * TEXT_MARGIN and y >= 0 and y + height <= rows:
            placed.append(BurnedText(line, TEXT_MARGIN, y, width, height))
        y += height + 1
    return placed


def burn_in(frame: NDArray[np.generic], placed: list[BurnedText], value: int) -> None:
    """Overwrite the pixels of each placed line in ``frame`` (2-D, or RGB last axis) in place."""
    rows, columns = frame.shape[0], frame.shape[1]
    for item in placed:
        frame[text_mask(item.text, rows, columns, *anchor_of(item))] = value
