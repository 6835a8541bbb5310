"""Named, pluggable units (observations, rewards): registered by name, looked up by name.

A config names a unit by string (``env.reward: delay``); :meth:`Registry.get` turns an unknown name
into a :class:`~core.errors.ConfigError` that lists the registered ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Units of one kind by name.

    Args:
        kind: what the units are, as the config field that names them (``observation``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering a class or function under ``name`` (returned unchanged)."""

        def wrap(item: T) -> T:
            self._items[name] = item
            return item

        return wrap

    def get(self, name: str) -> T:
        """The unit registered as ``name``.

        Raises:
            ConfigError: no unit has that name; the message lists the registered ones.
        """
        if name not in self._items:
            raise ConfigError(f"{self.kind}={name!r} is unknown; registered: {', '.join(self.names())}.")
        return self._items[name]

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)
