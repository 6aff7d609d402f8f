"""Form input checks for dashboard POSTs: lengths and NUL bytes are refused here, before any store
(PostgreSQL rejects NUL in text and varchar overflows with a 500 otherwise)."""

from __future__ import annotations


def clean_text(value: str, max_length: int, what: str, *, required: bool = False) -> tuple[str, str]:
    """(the stripped text, an error to show or "")."""
    text = value.strip()
    if "\x00" in text:
        return "", f"the {what} must not contain NUL bytes"
    if len(text) > max_length:
        return text[:max_length], f"the {what} must be at most {max_length} characters"
    if required and not text:
        return "", f"the {what} must not be empty"
    return text, ""
