"""The channel interface: every adapter turns channel input into an AuthResult."""

from __future__ import annotations

from typing import Any
from typing import Protocol

from flask import Blueprint

from idp.authn.interaction import Interaction
from idp.authn.result import AuthResult
from idp.authn.result import Channel


class ChannelAdapter(Protocol):
    NAME: Channel
    bp: Blueprint

    def authenticate(self, *, interaction: Interaction, form: Any) -> AuthResult: ...


class AdapterError(Exception):
    """A channel refused the input; ``public`` is safe to show to the user."""

    def __init__(self, public: str) -> None:
        super().__init__(public)
        self.public = public
