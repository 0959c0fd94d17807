"""Categories: anyone lists them; administrators manage them."""

from __future__ import annotations

from videoplatform.application.context import Caller, require_permission
from videoplatform.application.essentials import UseCases
from videoplatform.domain.audit import AuditAction
from videoplatform.domain.categories import Category
from videoplatform.domain.errors import Conflict
from videoplatform.domain.ids import CategoryId
from videoplatform.domain.users import Permission


class CategoryService(UseCases):
    def list(self) -> list[Category]:
        with self._uow() as uow:
            return uow.categories.list_all()

    def create(self, caller: Caller, name: str) -> Category:
        with (
            self._audit.refusals(caller, AuditAction.CATEGORY_CREATE, "category", None),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.CATEGORY_MANAGE)
            category = Category.create(
                id=CategoryId(self._ids.new_id()), name=name, now=self._clock.now()
            )
            uow.categories.add(category)
            self._audit.record(
                uow,
                caller,
                AuditAction.CATEGORY_CREATE,
                "category",
                category.id,
                metadata={"name": category.name},
            )
            uow.commit()
        return category

    def rename(self, caller: Caller, category_id: CategoryId, name: str) -> Category:
        with (
            self._audit.refusals(caller, AuditAction.CATEGORY_RENAME, "category", category_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.CATEGORY_MANAGE)
            category = uow.categories.get(category_id)
            before = category.name
            category.rename(name)
            uow.categories.save(category)
            self._audit.record(
                uow,
                caller,
                AuditAction.CATEGORY_RENAME,
                "category",
                category_id,
                metadata={"from": before, "to": category.name},
            )
            uow.commit()
        return category

    def delete(self, caller: Caller, category_id: CategoryId) -> None:
        """Refused with Conflict while videos are filed under the category."""
        with (
            self._audit.refusals(caller, AuditAction.CATEGORY_DELETE, "category", category_id),
            self._uow() as uow,
        ):
            require_permission(uow, caller, Permission.CATEGORY_MANAGE)
            category = uow.categories.get(category_id)
            if uow.videos.list_by_category(category_id):
                raise Conflict("the category still has videos", code="category_in_use")
            uow.categories.delete(category_id)
            self._audit.record(
                uow,
                caller,
                AuditAction.CATEGORY_DELETE,
                "category",
                category_id,
                metadata={"name": category.name},
            )
            uow.commit()
