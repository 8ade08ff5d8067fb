"""The console's pages and static files: HTML files under static/ with `{{name}}` slots filled with escaped values
(no template engine, no inline script or style), and Plotly served from the plotly wheel.

Plotly injects its own stylesheets with `<style>` elements, which a CSP without 'unsafe-inline' refuses:
- its global rules: it skips them when the page holds an element with the id `plotly.js-style-global` and the class
  `no-inline-styles`. The page's `<link>` to /static/plotly.css is that element, and the stylesheet is built once
  from the rules inside the wheel's plotly.min.js (the same rules Plotly would have injected);
- the map library's stylesheet, injected when the bundle loads unless an element with its id (a digest) exists:
  the page's `<link>` to /static/plotly-map.css carries that id, and the stylesheet is the one from the bundle."""

from __future__ import annotations

import html
import re
from functools import cache
from importlib.resources import files
from pathlib import Path

import structlog

log = structlog.get_logger("dsp.console")
STATIC = Path(__file__).parents[1] / "static"
_SLOT = re.compile(r"\{\{([a-z_]+)\}\}")
_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_RULE = re.compile(rf"({_STRING})\s*:\s*({_STRING})")


def render(name: str, **values: str) -> str:
    """static/<name> with each `{{slot}}` replaced by its HTML-escaped value (a missing value is an error)."""
    return _SLOT.sub(lambda m: html.escape(values[m.group(1)], quote=True), (STATIC / name).read_text())


def plotly_js() -> Path:
    return Path(str(files("plotly") / "package_data" / "plotly.min.js"))


_MAP_STYLE = re.compile(r'document\.getElementById\("([0-9a-f]{16,})"\)\)\{'
                        r'var (\w+)=document\.createElement\("style"\);'
                        r'\2\.id="\1",\2\.textContent=\'((?:[^\'\\]|\\.)*)\'')


@cache
def plotly_map_style() -> tuple[str, str]:
    """(the id that stops the bundle from injecting its map stylesheet, that stylesheet)."""
    found = _MAP_STYLE.search(plotly_js().read_text(encoding="utf-8"))
    if found is None:
        return "plotly-map-style", ""
    return found.group(1), _unquote(f"'{found.group(3)}'")


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


@cache
def plotly_css() -> str:
    """Plotly's global style rules as a stylesheet (empty, with a warning, if this Plotly hides them otherwise:
    the charts still draw, only Plotly's hover and mode-bar cosmetics are missing)."""
    source = plotly_js().read_text(encoding="utf-8")
    start = source.find('{"X,X div"')
    if start < 0:
        log.warning("plotly's style rules not found; plotly.css is empty")
        return ""
    depth, quote, i = 0, "", start
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                break
        i += 1
    rules = []
    for selector, declarations in _RULE.findall(source[start:i + 1]):
        css_selector = re.sub(r"^,", " ,", _unquote(selector)).replace("X", ".js-plotly-plot .plotly")
        rules.append(f"{css_selector.replace('Y', '.plotly-notifier')} {{{_unquote(declarations)}}}")
    return "\n".join(rules) + "\n"
