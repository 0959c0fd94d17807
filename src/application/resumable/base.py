"""What every part of the resumable-upload use cases shares."""

from __future__ import annotations

from videoplatform.application.context import Caller, Hidden, require_user
from videoplatform.application.essentials import Essentials, UseCases
from videoplatform.application.files import FileService
from videoplatform.application.limits import Limits
from videoplatform.application.ports.persistence import UnitOfWork
from videoplatform.application.ports.storage import ObjectStorage
from videoplatform.application.videos import VideoService
from videoplatform.domain.uploads import ResumableUpload, UploadId


class ResumableBase(UseCases):
    def __init__(
        self,
        essentials: Essentials,
        storage: ObjectStorage,
        limits: Limits,
        videos: VideoService,
        files: FileService,
    ) -> None:
        super().__init__(essentials)
        self._storage = storage
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
