"""Connecting to Ray (a local instance or a cluster) with the project's errors.

Ray is an optional extra (``pip install -e ".[ray]"``): this module imports it only when a Ray
executor is asked for, so without the extra nothing changes, and asking for Ray without it raises a
:class:`~core.errors.ConfigError` that says how to install it. Both users of Ray (the evaluation
harness's episodes as Ray tasks, the training simulations as Ray actors) connect through
:class:`RaySession`, which fails within seconds on an address where no Ray cluster answers instead
of waiting on it, and shuts down only the Ray instance it started itself.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from types import ModuleType, TracebackType
from typing import Any

from core.errors import ClusterError, ConfigError

INSTALL_HINT = 'pip install -e ".[ray]"'
"""How to install the optional Ray extra (quoted in every error that needs it)."""

LOCAL_NODE_IP = "127.0.0.2"
"""Node address of a Ray instance this process starts itself. Ray rewrites the literal ``127.0.0.1``
and ``localhost`` to the machine's network address (``ray._private.services.resolve_ip_for_localhost``),
so a local instance would advertise itself on the network; any other ``127/8`` address is loopback
and Ray keeps it as it is."""

CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a Ray head to accept a connection (and for Ray to find its GCS there)."""


def import_ray(field: str) -> ModuleType:
    """The ``ray`` module, or a :class:`ConfigError` naming ``field`` and the install command.

    Args:
        field: the setting that asked for Ray (``executor``), named in the error.

    Raises:
        ConfigError: the ``ray`` extra is not installed.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"{field}: 'ray' needs the optional Ray extra, which is not installed; "
            f"install it with {INSTALL_HINT} (or use the default 'process')."
        ) from None
    return ray


def parse_address(address: str, field: str) -> tuple[str, int] | None:
    """Check a Ray address: ``host:port`` (the head's GCS port, 6379 by default) or ``auto``.

    Returns:
        ``(host, port)``, or ``None`` for ``auto`` (Ray finds the cluster started on this machine).

    Raises:
        ConfigError: a Ray Client address (``ray://``) or a malformed one; the message names
            ``field`` and shows the expected form.
    """
    if address == "auto":
        return None
    if address.startswith("ray://"):
        raise ConfigError(
            f"{field}: {address!r} is a Ray Client address; give the head's GCS address instead "
            "(host:port, e.g. HEAD_IP:6379, as printed by `ray start --head`) and run the driver "
            "on a machine of the cluster."
        )
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"{field}: {address!r} is not a Ray address; give host:port of the head "
            "(e.g. HEAD_IP:6379, as printed by `ray start --head`) or 'auto'."
        )
    return host, int(port)


def probe(address: str, field: str = "ray_address") -> tuple[str, int] | None:
    """Check that something accepts connections at a Ray address, within :data:`CONNECT_TIMEOUT`
    seconds (Ray itself retries a dead address for a long time).

    Returns:
        what :func:`parse_address` returns.

    Raises:
        ConfigError: a malformed address.
        ClusterError: nothing answers there; the message says how to start a head.
    """
    target = parse_address(address, field)
    if target is None:
        return None
    try:
        with socket.create_connection(target, timeout=CONNECT_TIMEOUT) as sock:
            speaks_grpc = _speaks_http2(sock)
    except OSError as exc:
        raise ClusterError(
            f"{field}: no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
            "`ray start --head --port PORT` and give its host:PORT, or leave the address out to start "
            "a local Ray instance."
        ) from None
    if not speaks_grpc:
        raise ClusterError(
            f"{field}: {address} accepts connections but is not a Ray head (no gRPC answer within "
            f"{CONNECT_TIMEOUT:g} s); give the GCS port that `ray start --head` printed (6379 by default)."
        )
    return target


def _speaks_http2(sock: socket.socket) -> bool:
    """Whether the server answers an HTTP/2 client preface with a SETTINGS frame (RFC 9113 3.4), as
    every gRPC server such as Ray's GCS does; a port that is not Ray's would otherwise keep
    ``ray.init`` retrying for minutes. Not checked with Ray's TLS on (``RAY_USE_TLS``)."""
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
        return True
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    empty_settings = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # length 0, type 4, flags 0, stream 0
    try:
        sock.sendall(preface + empty_settings)
        header = b""
        while len(header) < 9:
            chunk = sock.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:  # includes the timeout
        return False
    return header[3] == 0x04


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RaySession:
    """A connection to Ray for the length of a ``with`` block.

    Joins the Ray instance this process already runs (``ray.init`` called by the caller, e.g. a
    test), else connects to ``address``, else starts a local instance with ``num_cpus`` CPUs. Only an
    instance started here is shut down on exit; a connection to a cluster is closed (the cluster
    keeps running).

    Args:
        address: the head's ``host:port`` or ``auto``; ``None`` starts a local instance.
        num_cpus: CPUs of a local instance (``None``: Ray counts the machine's).
        field: the setting the address came from (``ray_address``), named in errors.

    Raises:
        ConfigError: Ray is not installed, or the address is malformed (on entering).
        ClusterError: no Ray cluster answers at ``address`` within :data:`CONNECT_TIMEOUT` seconds
            (on entering).
    """

    def __init__(
        self, address: str | None, *, num_cpus: int | None = None, field: str = "ray_address"
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.field = field
        self._owned = False

    def __enter__(self) -> RaySession:
        ray = import_ray("executor")
        if ray.is_initialized():
            return self
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report to the network
        if self.address is None:
            ray.init(
                num_cpus=self.num_cpus,
                include_dashboard=False,
                _node_ip_address=LOCAL_NODE_IP,
                logging_level="WARNING",
                # Ray runs its workers at niceness 15; a simulation is the work itself, not a
                # background chore, and at 15 it loses the cores to any other job (measured: 0.64x).
                _system_config={"worker_niceness": 0},
            )
        else:
            self._connect(ray, self.address)
        self._owned = True
        return self

    def _connect(self, ray: ModuleType, address: str) -> None:
        target = probe(address, self.field)
        kwargs: dict[str, Any] = {}
        if target is not None and _is_loopback(target[0]):
            kwargs["_node_ip_address"] = target[0]  # a driver on the head's machine joins that node
        # Bound Ray's own wait for the GCS (an open port that is not a Ray head).
        previous = os.environ.get("RAY_gcs_server_port_wait_time_s")
        os.environ["RAY_gcs_server_port_wait_time_s"] = str(int(CONNECT_TIMEOUT))
        try:
            ray.init(address=address, logging_level="WARNING", **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ClusterError(
                f"{self.field}: could not join the Ray cluster at {address}: {exc}; check that "
                "`ray status --address ADDRESS` sees it and that this machine runs the same Ray version."
            ) from None
        finally:
            if previous is None:
                os.environ.pop("RAY_gcs_server_port_wait_time_s", None)
            else:
                os.environ["RAY_gcs_server_port_wait_time_s"] = previous

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._owned:
            import ray

            ray.shutdown()
            self._owned = False
