"""Real files for upload tests: a PDF made with reportlab, PNG and JPEG images made with Pillow."""

from __future__ import annotations

import io
import random

from PIL import Image
from reportlab.pdfgen import canvas


def pdf(text: str = "Carnet de vaccination", pages: int = 1) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for n in range(pages):
        page.drawString(72, 720, f"{text} ({n + 1}/{pages})")
        page.showPage()
    page.save()
    return buffer.getvalue()


def image(fmt: str = "PNG", size: tuple[int, int] = (64, 48), noisy: bool = False) -> bytes:
    """One colour, or (noisy) random pixels: a file larger than the first KiB a browser sniffs."""
    buffer = io.BytesIO()
    picture = (Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3)) if noisy
               else Image.new("RGB", size, (200, 30, 30)))
    picture.save(buffer, fmt)
    return buffer.getvalue()
