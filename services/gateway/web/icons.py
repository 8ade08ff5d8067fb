"""The portal's app icons (the web app manifest's, the browser tab's, a phone's home screen), drawn with Pillow: a
white cross with rounded arms on the portal's blue. `python -m services.gateway.web.icons` writes them into static/
(they are committed; tests/unit/test_portal_installable.py checks they are what this draws)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

STATIC = Path(__file__).parent / "static"
BRAND = (0x00, 0x52, 0x7A)  # portal.css --brand, the manifest's theme colour
THEME = "#00527a"
BACKGROUND = "#f6f8fa"  # portal.css --bg
# name -> (size in px, maskable: the cross inside the safe zone, a full-bleed square)
ICONS = {"icon-192.png": (192, False), "icon-512.png": (512, False), "icon-maskable-512.png": (512, True),
         "apple-touch-icon.png": (180, True)}


def draw(size: int, maskable: bool) -> Image.Image:
    scale = 4  # drawn large, then scaled down: smooth edges
    side = size * scale
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        pen.rectangle((0, 0, side, side), fill=BRAND)
    else:
        pen.rounded_rectangle((0, 0, side - 1, side - 1), radius=side // 5, fill=BRAND)
    reach = side * (0.27 if maskable else 0.33)  # a maskable icon's safe zone is the middle 80 %
    arm = reach * 0.42
    middle = side / 2
    for box in ((middle - arm, middle - reach, middle + arm, middle + reach),
                (middle - reach, middle - arm, middle + reach, middle + arm)):
        pen.rounded_rectangle(box, radius=int(arm * 0.45), fill="white")
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    for name, (size, maskable) in ICONS.items():
        draw(size, maskable).save(STATIC / name, optimize=True)
        print(STATIC / name)


if __name__ == "__main__":
    main()
