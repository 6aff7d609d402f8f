"""Filters for rendering output content readably (inline text as text, JSON pretty-printed)."""

from __future__ import annotations

import json
from typing import Any

from django import template

from stores.output_types import OutputEvent
from stores.outputs import preview_text

register = template.Library()


@register.filter
def is_text(value: Any) -> bool:
    return isinstance(value, str)


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@register.filter
def output_preview(event: OutputEvent) -> str:
    return preview_text(event)
