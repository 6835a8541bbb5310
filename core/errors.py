"""The project's exception hierarchy.

Every error a user can cause (a bad config, a broken scenario file, an invalid action) is raised as
a subclass of :class:`TSCError`, with a message that names the file or field and says how to fix it.
It lives in the lowest layer (``core``) so that every other package can import it without
breaking the one-way import order ``core -> scenarios -> envs -> agents -> evaluation -> entry points``.
"""

from __future__ import annotations


class TSCError(Exception):
    """Base class of every error this project raises on purpose."""


class ConfigError(TSCError, ValueError):
    """A configuration value is missing, unknown or out of range."""


class ScenarioError(TSCError):
    """A scenario cannot be built or loaded (unknown name, missing or malformed file, no signals)."""


class SumoNotFoundError(TSCError):
    """The SUMO binaries or tools could not be found."""


class SimulationError(TSCError):
    """SUMO failed while running (crashed, was killed, or rejected a command)."""


class ClusterError(TSCError):
    """A Ray cluster cannot be reached at the given address, or lost the workers it was running."""


class InvalidActionError(TSCError, ValueError):
    """An agent chose an action that is outside its space or masked out at this step."""


class CheckpointError(TSCError):
    """A checkpoint or saved model is missing, truncated or corrupt."""


class ExportError(TSCError):
    """An exported policy does not match the scenario it is asked to control."""


class RecordError(TSCError):
    """An episode record (the live view's per-step replay file) is missing, truncated or corrupt."""
