"""Refusals of the staff service. ``public`` is shown (translated at the web layer);
``detail`` goes to logs only."""

from __future__ import annotations

from ...errors import IdpError


class StaffError(IdpError):
    public = "The request could not be completed."


class UnknownStaff(StaffError):
    public = "No such staff member."


class EnrolmentRefused(StaffError):
    # One answer for an unknown user, a wrong, used or expired code: no oracle.
    public = "The username or enrolment code is wrong or has expired."


class SignInRefused(StaffError):
    public = "The security key was not accepted. Try again."


class NoConsoleAccess(StaffError):
    public = "Your account has no access to the console."


class VerificationExpired(StaffError):
    public = "The security-key check took too long. Try again."
