"""The platform's own durable handlers: effects of one aggregate's change on others,
and mail, run after the change committed, wherever the subscription is consumed.

Each is idempotent: an event handled twice changes nothing the second time.
"""

from __future__ import annotations

from attrs import frozen

from videoplatform.application.concurrency import retry_stale
from videoplatform.application.events.consumer import DurableHandler
from videoplatform.application.ports.persistence import UnitOfWorkFactory
from videoplatform.application.ports.queue import Subscription
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock
from videoplatform.application.search import SEARCH_INDEX, search_indexing
from videoplatform.application.users.data_export import DATA_EXPORT, data_exports
from videoplatform.application.users.mailing import ACCOUNT_MAIL, AccountMail
from videoplatform.domain.events import DomainEvent, FileDeleted, VideoDeleted
from videoplatform.domain.shares import ShareTarget, ShareTargetKind

SHARES_OF_DELETED = Subscription("shares.revoke-of-deleted", ("VideoDeleted", "FileDeleted"))
"""Share links of a deleted video or file are revoked (they already stopped working:
redeeming needs the target; revoking says so in the owner's list of links)."""


@frozen
class ShareRevocation:
    uow: UnitOfWorkFactory
    clock: Clock

    def __call__(self, event: DomainEvent) -> None:
        if isinstance(event, VideoDeleted):
            target = ShareTarget(ShareTargetKind.VIDEO, event.video_id)
        elif isinstance(event, FileDeleted):
            target = ShareTarget(ShareTargetKind.FILE, event.file_id)
        else:
            return
        retry_stale(3, lambda: self._revoke(target))

    def _revoke(self, target: ShareTarget) -> None:
        now = self.clock.now()
        with self.uow() as uow:
            for share in uow.shares.list_for_target(target):
                if share.revoked_at is None:
                    share.revoke(now)
                    uow.shares.save(share)
            uow.commit()


def platform_reactions(
    uow: UnitOfWorkFactory, clock: Clock, mail: AccountMail, storage: ObjectStorage
) -> list[DurableHandler]:
    """The durable handlers every platform has (the worker runs them): one for each of
    :data:`PLATFORM_SUBSCRIPTIONS`."""
    return [
        DurableHandler(SHARES_OF_DELETED, ShareRevocation(uow, clock)),
        DurableHandler(ACCOUNT_MAIL, mail),
        search_indexing(uow),
        data_exports(uow, storage),
    ]


PLATFORM_SUBSCRIPTIONS = (SHARES_OF_DELETED, ACCOUNT_MAIL, SEARCH_INDEX, DATA_EXPORT)
