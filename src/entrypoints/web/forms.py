"""Reading what a browser's form sent (``application/x-www-form-urlencoded``)."""

from __future__ import annotations

from urllib.parse import parse_qs

import falcon

from videoplatform.domain.errors import ValidationError
from videoplatform.entrypoints.http.convert import check_text
from videoplatform.entrypoints.http.errors import body_read_failed, coded

FORM_LIMIT = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


class Form:
    """A form's fields, each read once as text (the first value when repeated)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def text(self, name: str) -> str:
        values = self._fields.get(name)
        return values[0] if values else ""

    def values(self, name: str) -> list[str]:
        return list(self._fields.get(name, []))


def read_form(req: falcon.Request, limit: int = FORM_LIMIT) -> Form:
    """The form a browser posted: 415 for another body, 413 past ``limit`` bytes, 422
    for text a database cannot store."""
    kind = (req.content_type or "").split(";", 1)[0].strip().lower()
    if kind != FORM_TYPE:
        raise coded(
            falcon.HTTPUnsupportedMediaType(description=f"send the form as {FORM_TYPE}"),
            "unsupported_media_type",
        )
    length = req.content_length
    if length is not None and length > limit:
        raise coded(
            falcon.HTTPContentTooLarge(description="the form is too large"), "form_too_large"
        )
    try:
        body = req.bounded_stream.read(limit + 1)
    except OSError as error:
        raise body_read_failed(error, "the form arrived incomplete") from None
    if len(body) > limit:
        raise coded(
            falcon.HTTPContentTooLarge(description="the form is too large"), "form_too_large"
        )
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise ValidationError("the form is not UTF-8 text") from None
    for name, values in fields.items():
        for value in values:
            try:
                check_text(value)
            except ValueError as problem:
                raise ValidationError.field(name, str(problem)) from None
    return Form(fields)
