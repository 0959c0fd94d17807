"""Mail about one's videos: ready, or could not be processed, unless turned off."""

from __future__ import annotations

import pytest

from tests.unit.application.conftest import Studio
from tests.unit.conftest import MakeUser
from videoplatform.adapters.memory.mail import MemoryMailer
from videoplatform.application.users import UpdateProfile
from videoplatform.domain.errors import ValidationError
from videoplatform.entrypoints.bootstrap import Platform
from videoplatform.entrypoints.worker import settle_events


def test_the_owner_is_mailed_when_a_video_is_ready_or_failed(
    platform: Platform, studio: Studio, make_user: MakeUser, mailer: MemoryMailer
) -> None:
    me = make_user()
    address = platform.users.me(me).email.value
    studio.publish(me, title="Harbour at dawn")
    broken = studio.upload(me, title="Broken clip")
    studio.fail(broken.id, "the file is not a video")
    settle_events(platform)

    subjects = sorted(m.subject for m in mailer.sent if m.to == address)
    assert subjects == [
        "Your video could not be processed: Broken clip",
        "Your video is ready: Harbour at dawn",
    ]
    [failed] = [m for m in mailer.sent if "could not" in m.subject]
    assert "the file is not a video" in failed.body
    assert "stop these mails" in failed.body


def test_no_mail_once_turned_off(
    platform: Platform, studio: Studio, make_user: MakeUser, mailer: MemoryMailer
) -> None:
    me = make_user()
    platform.users.update_profile(me, UpdateProfile(mail_on_processing=False))
    studio.publish(me, title="Quiet")
    settle_events(platform)

    assert not [m for m in mailer.sent if "Quiet" in m.subject]
    assert platform.users.me(me).mail_on_processing is False


def test_a_bio_is_kept_trimmed_within_its_length(platform: Platform, make_user: MakeUser) -> None:
    me = make_user()
    changed = platform.users.update_profile(me, UpdateProfile(bio="  I film boats.\nAnd sea.  "))
    assert changed.bio == "I film boats.\nAnd sea."
    shown = platform.users.channel(changed.id)
    assert shown == (changed.display_name, "I film boats.\nAnd sea.", None)
    with pytest.raises(ValidationError):
        platform.users.update_profile(me, UpdateProfile(bio="x" * 501))
    with pytest.raises(ValidationError):
        platform.users.update_profile(me, UpdateProfile(bio="bell\x07"))
