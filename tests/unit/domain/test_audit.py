"""The audit trail is append-only: an event cannot be changed once made."""

from __future__ import annotations

import attrs
import pytest

from tests.unit.domain.builders import NOW
from videoplatform.domain.audit import AuditAction, AuditEvent, AuditResult
from videoplatform.domain.ids import AuditEventId, UserId


def _event(metadata: dict[str, str] | None = None) -> AuditEvent:
    return AuditEvent(
        id=AuditEventId("audit-1"),
        occurred_at=NOW,
        actor_id=UserId("user-1"),
        action=AuditAction.SHARE_REDEEM,
        resource_type="share",
        resource_id="share-1",
        result=AuditResult.SUCCESS,
        ip="203.0.113.7",
        user_agent="curl/8",
        metadata=metadata if metadata is not None else {"target": "video-1"},
    )


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("result", AuditResult.DENIED),
        ("actor_id", None),
        ("occurred_at", NOW.replace(year=2030)),
        ("metadata", {}),
    ],
)
def test_audit_event_fields_cannot_be_reassigned(attribute: str, value: object) -> None:
    event = _event()
    before = getattr(event, attribute)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(event, attribute, value)
    assert getattr(event, attribute) == before


def test_audit_event_metadata_cannot_be_mutated() -> None:
    event = _event({"target": "video-1"})
    with pytest.raises(TypeError):
        event.metadata["target"] = "video-2"  # type: ignore[index]
    with pytest.raises(TypeError):
        del event.metadata["target"]  # type: ignore[attr-defined]
    assert dict(event.metadata) == {"target": "video-1"}


def test_default_metadata_is_empty_and_cannot_be_mutated() -> None:
    event = AuditEvent(
        id=AuditEventId("audit-2"),
        occurred_at=NOW,
        actor_id=None,
        action=AuditAction.USER_LOGIN,
        resource_type="user",
        resource_id=None,
        result=AuditResult.FAILURE,
    )
    assert dict(event.metadata) == {}
    assert event.ip is None
    assert event.user_agent is None
    with pytest.raises(TypeError):
        event.metadata["sneaky"] = "added"  # type: ignore[index]


def test_mutating_the_dict_passed_in_does_not_leak_into_the_event() -> None:
    source = {"target": "video-1"}
    event = _event(source)
    source["target"] = "video-2"
    source["extra"] = "added"
    assert dict(event.metadata) == {"target": "video-1"}


def test_evolve_makes_a_new_event_and_leaves_the_original_untouched() -> None:
    event = _event({"target": "video-1"})
    copy = attrs.evolve(event, metadata={"target": "video-2"})
    assert dict(event.metadata) == {"target": "video-1"}
    assert dict(copy.metadata) == {"target": "video-2"}
    with pytest.raises(TypeError):
        copy.metadata["target"] = "video-3"  # type: ignore[index]


def test_audit_events_with_the_same_content_are_equal() -> None:
    assert _event({"a": "1"}) == _event({"a": "1"})
    assert _event({"a": "1"}) != _event({"a": "2"})


def test_audit_actions_and_results_are_stable_strings() -> None:
    assert AuditAction.SHARE_REDEEM.value == "share.redeem"
    assert AuditAction.USER_ROLES_CHANGE.value == "user.roles_change"
    assert AuditAction.TOKEN_CREATE.value == "token.create"
    assert {r.value for r in AuditResult} == {"success", "failure", "denied"}
    assert all(
        action.value.count(".") == 1 and action.value == action.value.lower()
        for action in AuditAction
    )
    assert len({a.value for a in AuditAction}) == len(AuditAction)
