"""Domain errors carry a stable machine code that entrypoints map to transports."""

from __future__ import annotations

import pytest

from videoplatform.domain.errors import (
    AuthenticationFailed,
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    ShareRefused,
    ValidationError,
)

# Clients depend on these strings; changing one is a breaking API change.
# fmt: off
STABLE_CODES: tuple[tuple[type[DomainError], str], ...] = (
    (DomainError,          "domain_error"),
    (NotFound,             "not_found"),
    (PermissionDenied,     "permission_denied"),
    (AuthenticationFailed, "authentication_failed"),
    (InvalidTransition,    "invalid_transition"),
    (ValidationError,      "validation_failed"),
    (Conflict,             "conflict"),
    (QuotaExceeded,        "quota_exceeded"),
)
# fmt: on


@pytest.mark.parametrize(("error_type", "code"), STABLE_CODES, ids=lambda x: str(x))
def test_each_error_type_has_a_stable_code(error_type: type[DomainError], code: str) -> None:
    assert error_type.code == code
    error = error_type("something happened")
    assert error.code == code
    assert error.message == "something happened"
    assert str(error) == "something happened"


@pytest.mark.parametrize(("error_type", "code"), STABLE_CODES, ids=lambda x: str(x))
def test_every_domain_error_is_a_domain_error(error_type: type[DomainError], code: str) -> None:
    assert issubclass(error_type, DomainError)
    assert issubclass(error_type, Exception)


def test_codes_are_distinct() -> None:
    codes = [code for _, code in STABLE_CODES] + [ShareRefused.code]
    assert len(codes) == len(set(codes))


def test_code_can_be_refined_per_instance_without_changing_the_class() -> None:
    error = NotFound("no such video", code="video_not_found")
    assert error.code == "video_not_found"
    assert NotFound.code == "not_found"
    assert NotFound("other").code == "not_found"


def test_validation_error_field_builds_the_fields_mapping() -> None:
    error = ValidationError.field("email", "not a valid email address")
    assert error.fields == {"email": "not a valid email address"}
    assert error.message == "email: not a valid email address"
    assert error.code == "validation_failed"
    assert isinstance(error, ValidationError)


def test_validation_error_without_fields_has_an_empty_mapping() -> None:
    assert ValidationError("bad input").fields == {}


def test_validation_error_copies_the_fields_it_is_given() -> None:
    given = {"title": "too long"}
    error = ValidationError("bad", fields=given)
    given["title"] = "changed"
    given["extra"] = "added"
    assert error.fields == {"title": "too long"}


def test_validation_error_accepts_several_fields_and_a_custom_code() -> None:
    error = ValidationError(
        "bad upload", fields={"title": "blank", "tags": "too many"}, code="upload_invalid"
    )
    assert error.fields == {"title": "blank", "tags": "too many"}
    assert error.code == "upload_invalid"


def test_share_refused_carries_its_reason_and_a_derived_code() -> None:
    error = ShareRefused("expired")
    assert error.reason == "expired"
    assert error.code == "share_expired"
    assert error.message == "share refused: expired"
    assert ShareRefused.code == "share_refused"
    assert isinstance(error, DomainError)
