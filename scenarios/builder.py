"""Build catalogue scenarios into a content-keyed cache, atomically.

A build writes ``net.net.xml``, ``demand.rou.xml``, ``card.md`` and ``scenario.json`` into a
temporary folder next to the cache entry and renames it into place in one step, so an interrupted
build never leaves a half-written entry. The entry's folder name holds a hash of everything that
determines the files (catalogue entry, seed, horizon, demand scale, SUMO version, generator
version), so a second build with the same arguments is a folder lookup.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import ScenarioError
from scenarios import sumo_install
from scenarios.card import render_card, render_city_card
from scenarios.catalogue import CATALOGUE, MEASURED, Entry
from scenarios.city import CitySpec, compile_net, generate
from scenarios.city_demand import GravityDemand, route_city
from scenarios.demand import Slice, peak_profile, sample_routes, write_flows
from scenarios.netinfo import check_generated, read_net
from scenarios.networks import (
    ArterialSpec,
    GridSpec,
    SignalPlan,
    SpiderSpec,
    arterial_net,
    grid_net,
    spider_net,
)
from scenarios.scenario import Scenario

# Bump when the generator's output changes for the same inputs (invalidates old cache entries).
GENERATOR_VERSION = 1
_MANIFEST = "scenario.json"


def default_cache_dir() -> Path:
    """``$WUXI_TSC_CACHE`` if set, else ``~/.cache/wuxi-tsc/scenarios``."""
    env = os.environ.get("WUXI_TSC_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "wuxi-tsc" / "scenarios"


def list_scenarios() -> list[str]:
    """Names of the catalogue scenarios, in catalogue order."""
    return list(CATALOGUE)


def entry(name: str) -> Entry:
    """The catalogue entry called ``name``.

    Raises:
        ScenarioError: unknown name (the message lists the known ones).
    """
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ScenarioError(
            f"Unknown scenario {name!r}. Known scenarios: {', '.join(CATALOGUE)} "
            "(or pass a path to a .sumocfg / .net.xml)."
        ) from None


def build(
    name: str,
    seed: int = 0,
    *,
    cache_dir: Path | None = None,
    horizon: float | None = None,
    demand_scale: float = 1.0,
) -> Scenario:
    """Build (or fetch from the cache) the catalogue scenario ``name``.

    Args:
        name: a name from :func:`list_scenarios`.
        seed: generator seed (route sampling); the same seed gives byte-identical files. The
            realised arrivals are drawn by SUMO at run time from its own ``--seed``.
        cache_dir: cache root; default :func:`default_cache_dir`.
        horizon: episode length in seconds (default: the entry's, 3600 s); demand is truncated to it.
        demand_scale: multiplies every arrival rate.

    Raises:
        ScenarioError: unknown name, non-positive horizon or demand scale, or a failing SUMO tool.
    """
    spec = entry(name)
    horizon = float(spec.horizon if horizon is None else horizon)
    if horizon <= 0:
        raise ScenarioError(f"build({name!r}): horizon must be > 0 seconds, got {horizon}.")
    if demand_scale <= 0:
        raise ScenarioError(f"build({name!r}): demand_scale must be > 0, got {demand_scale}.")
    key = _cache_key(spec, int(seed), horizon, float(demand_scale))
    return cached_build(
        cache_dir,
        f"{name}-seed{int(seed)}-{key}",
        spec.name,
        lambda folder: build_files(spec, folder, int(seed), horizon, float(demand_scale)),
    )


def cached_build(
    cache_dir: Path | None, entry_name: str, name: str, make: Callable[[Path], object]
) -> Scenario:
    """The cache entry ``entry_name`` (a folder of ``cache_dir``) as a scenario called ``name``;
    built first by ``make(folder)`` (which writes the files and :func:`write_manifest`) if missing.

    ``make`` runs in a fresh temporary folder that is renamed into place in one step, so two
    processes building the same entry at once both succeed (the second keeps the first's folder)
    and a killed build leaves no entry. A hit reads one small JSON file and the card.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    final = root / entry_name
    if (final / _MANIFEST).is_file():
        return _read_manifest(final, name)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry_name}-", dir=root))
    try:
        make(tmp)
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished the same entry first: use theirs
            if not (final / _MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _read_manifest(final, name)


def build_files(
    spec: Entry, folder: Path, seed: int, horizon: float, demand_scale: float, plan: SignalPlan | None = None
) -> Scenario:
    """Generate the scenario's files into ``folder`` (no caching) and return the scenario.

    ``plan`` overrides the entry's signal plan (e.g. actuated signals for a calibration run).
    """
    plan = plan or spec.plan
    demand = folder / "demand.rou.xml"
    slices = _slices(spec, horizon)
    if isinstance(spec.network, CitySpec):
        card = _city_files(spec, spec.network, folder, seed, slices, demand_scale, horizon, plan)
        net_path = folder / "net.net.xml"
    else:
        net_path = _make_net(spec, folder, plan)
        net = read_net(net_path)
        check_generated(net)
        routes = sample_routes(net, spec.shares, folder, seed, max_signals=spec.max_signals)
        rates = {src: spec.rates.rate(src) for src in net.sources}
        expected = write_flows(demand, routes, rates, slices, demand_scale)
        card = render_card(spec, net, rates, slices, demand_scale, expected, horizon, seed)
    (folder / "card.md").write_text(card, encoding="utf-8")
    write_manifest(folder, spec.name, net_path, demand, horizon, spec.sumo_args, seed, demand_scale)
    return _read_manifest(folder, spec.name)


def write_manifest(
    folder: Path,
    name: str,
    net_path: Path,
    demand: Path,
    horizon: float,
    sumo_args: Sequence[str],
    seed: int,
    demand_scale: float,
    generator_version: int = GENERATOR_VERSION,
) -> None:
    """Write the ``scenario.json`` of a built entry (file names relative to ``folder``)."""
    manifest = {
        "name": name,
        "net_file": net_path.name,
        "route_files": [demand.name],
        "additional_files": [],
        "begin": 0.0,
        "end": horizon,
        "step_length": 1.0,
        "sumo_args": list(sumo_args),
        "seed": seed,
        "demand_scale": demand_scale,
        "sumo_version": sumo_install.version(),
        "generator_version": generator_version,
    }
    (folder / _MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _slices(spec: Entry, horizon: float) -> list[Slice]:
    """The entry's time profile, cut at ``horizon``."""
    slices = [s for s in peak_profile(spec.horizon) if s.begin < horizon]
    if slices and slices[-1].end > horizon:
        last = slices[-1]
        slices[-1] = Slice(last.begin, horizon, last.factor)
    return slices


def _city_files(
    spec: Entry,
    city: CitySpec,
    folder: Path,
    seed: int,
    slices: list[Slice],
    demand_scale: float,
    horizon: float,
    plan: SignalPlan,
) -> str:
    """Net and gravity-model demand of a city entry; return its card."""
    assert isinstance(spec.rates, GravityDemand), "a city entry's demand is a GravityDemand"
    layout = generate(city)
    net_path = compile_net(layout, city, plan, folder)
    net = read_net(net_path)
    check_generated(net)
    routed = route_city(net_path, layout.districts, spec.rates, folder, seed)
    expected = write_flows(folder / "demand.rou.xml", routed.routes, routed.rates, slices, demand_scale)
    return render_city_card(spec, layout, net, routed, slices, demand_scale, expected, horizon, seed)


def _make_net(spec: Entry, folder: Path, plan: SignalPlan) -> Path:
    if isinstance(spec.network, ArterialSpec):
        return arterial_net(folder, spec.network, plan)
    if isinstance(spec.network, GridSpec):
        return grid_net(folder, spec.network, plan)
    assert isinstance(spec.network, SpiderSpec), "city entries are built by _city_files"
    return spider_net(folder, spec.network, plan)


def _cache_key(spec: Entry, seed: int, horizon: float, demand_scale: float) -> str:
    payload = json.dumps(
        {
            "entry": repr(spec),
            "measured": MEASURED.get(spec.name, ""),
            "seed": seed,
            "horizon": horizon,
            "demand_scale": demand_scale,
            "sumo": sumo_install.version(),
            "generator": GENERATOR_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _read_manifest(folder: Path, name: str) -> Scenario:
    try:
        data = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(
            f"Cache entry {folder} is unreadable ({exc}); delete the folder and build again."
        ) from exc
    return Scenario(
        name=name,
        net_file=folder / data["net_file"],
        route_files=tuple(folder / f for f in data["route_files"]),
        additional_files=tuple(folder / f for f in data["additional_files"]),
        begin=float(data["begin"]),
        end=float(data["end"]),
        card=(folder / "card.md").read_text(encoding="utf-8"),
        step_length=float(data["step_length"]),
        sumo_args=tuple(data["sumo_args"]),
    )
