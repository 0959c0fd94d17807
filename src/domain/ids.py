"""Typed identifiers. They are plain strings at run time and distinct types for mypy."""

from typing import NewType

UserId = NewType("UserId", str)
TokenId = NewType("TokenId", str)
VideoId = NewType("VideoId", str)
FileId = NewType("FileId", str)
ShareId = NewType("ShareId", str)
CategoryId = NewType("CategoryId", str)
AuditEventId = NewType("AuditEventId", str)
CaptionId = NewType("CaptionId", str)
