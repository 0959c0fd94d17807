"""Short text on one line: names and titles."""

from __future__ import annotations

from videoplatform.domain.errors import ValidationError


def one_line(raw: str, field: str, longest: int) -> str:
    """``raw`` with its whitespace collapsed to single spaces and trimmed. What was sent
    holds at most ``longest`` characters and something besides whitespace (whitespace
    being what ``str.split`` splits on), so the limit is the same before and after."""
    text = " ".join(raw.split())
    if not text or len(raw) > longest:
        raise ValidationError.field(field, f"must be 1 to {longest} characters")
    return text
