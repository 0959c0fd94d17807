"""What every part of the resumable-upload use cases shares."""

from __future__ import annotations

from videoplatform.application.audit_recording import Auditor
from videoplatform.application.context import Caller, Hidden, require_user
from videoplatform.application.files import FileService
from videoplatform.application.limits import Limits
from videoplatform.application.ports.persistence import UnitOfWork, UnitOfWorkFactory
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.ports.system import Clock, IdGenerator
from videoplatform.application.videos import VideoService
from videoplatform.domain.uploads import ResumableUpload, UploadId


class ResumableBase:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        storage: ObjectStorage,
        clock: Clock,
        ids: IdGenerator,
        auditor: Auditor,
        limits: Limits,
        videos: VideoService,
        files: FileService,
    ) -> None:
        self._uow = uow_factory
        self._storage = storage
        self._clock = clock
        self._ids = ids
        self._audit = auditor
        self._limits = limits
        self._videos = videos
        self._files = files

    @staticmethod
    def _owned(uow: UnitOfWork, caller: Caller, upload_id: UploadId) -> ResumableUpload:
        user = require_user(uow, caller)
        upload = uow.uploads.get(upload_id)
        if upload.owner_id != user.id:
            raise Hidden("upload not found")
        return upload
