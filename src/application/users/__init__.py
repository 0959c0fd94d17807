"""Accounts: registration and verification (:mod:`.registration`), password recovery
(:mod:`.recovery`), change of address (:mod:`.email_change`), sessions and personal
tokens (:mod:`.sessions`), avatars (:mod:`.avatars`), two-factor login
(:mod:`.second_factor`), administration (:mod:`.administration`), deletion
(:mod:`.deletion`), data export (:mod:`.data_export`); the mail they send is in
:mod:`.messages`."""

from __future__ import annotations

from videoplatform.application.users.administration import Administration
from videoplatform.application.users.avatars import Avatars
from videoplatform.application.users.commands import (
    PASSWORD_RESET_TTL,
    IssuedToken,
    Login,
    Principal,
    RegisterUser,
    UpdateProfile,
)
from videoplatform.application.users.data_export import DataExport
from videoplatform.application.users.deletion import AccountDeletion
from videoplatform.application.users.email_change import EmailChange
from videoplatform.application.users.recovery import PasswordRecovery
from videoplatform.application.users.registration import Registration
from videoplatform.application.users.second_factor import (
    SecondFactorFailed,
    SecondFactorRequired,
    SecondFactorSteps,
    TwoFactorEnrolment,
)
from videoplatform.application.users.sessions import Sessions


class UserService(
    Registration,
    PasswordRecovery,
    EmailChange,
    Sessions,
    SecondFactorSteps,
    Administration,
    AccountDeletion,
    DataExport,
    Avatars,
):
    """Every account use case; see the modules of this package."""


__all__ = [
    "PASSWORD_RESET_TTL",
    "IssuedToken",
    "Login",
    "Principal",
    "RegisterUser",
    "SecondFactorFailed",
    "SecondFactorRequired",
    "TwoFactorEnrolment",
    "UpdateProfile",
    "UserService",
]
