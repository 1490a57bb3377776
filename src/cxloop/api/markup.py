"""Masking prepared markup (the charts) for callers who may not see personal data.

A chart is built as escaped SVG before the page is rendered, so the page's masking of its
context cannot reach inside it: what the chart prints (its ``aria-label``, every mark's
``<title>`` tooltip, its axis and bar labels) is masked here as free text, the way a
page's title is."""

from __future__ import annotations

import html
import re

from markupsafe import Markup, escape

from cxloop.library.edges import mask

_TEXT = re.compile(r">([^<>]+)<")
_ATTR = re.compile(r'\b(aria-label|title|alt)="([^"]*)"')


def _masked(raw: str) -> str:
    text = html.unescape(raw)
    hidden = mask(text, "text")
    return raw if hidden == text else str(escape(hidden))


def mask_markup(markup: Markup) -> Markup:
    """``markup`` with the personal data in its text and labels masked."""
    out = _TEXT.sub(lambda m: ">" + _masked(m.group(1)) + "<", str(markup))
    out = _ATTR.sub(lambda m: f'{m.group(1)}="{_masked(m.group(2))}"', out)
    return Markup(out)
