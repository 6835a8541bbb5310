"""Command line: ``python -m scenarios list | build NAME | info NAME_OR_PATH | calibrate NAME |
import-osm FILE``; ``build`` also takes ``generated:<family>`` (``--seed`` picks the variant).

Errors the user can fix print one line (``error: ...``) and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from core.errors import TSCError


def _list(_: argparse.Namespace) -> None:
    from scenarios.catalogue import CATALOGUE
    from scenarios.generator import DEFAULT_HORIZON, FAMILY_SUMMARIES, MAX_SIGNALS, MIN_SIGNALS

    print(f"{'name':<20} {'signals':>7} {'horizon':>8}  summary")
    for e in CATALOGUE.values():
        print(f"{e.name:<20} {e.n_signals:>7} {e.horizon:>7.0f}s  {e.summary}")
    print("\nRandom networks (the seed picks the variant: python -m scenarios build NAME --seed K):")
    for family, summary in FAMILY_SUMMARIES.items():
        signals = f"{MIN_SIGNALS.get(family, 2)}-{MAX_SIGNALS}"
        print(f"{'generated:' + family:<20} {signals:>7} {DEFAULT_HORIZON:>7.0f}s  {summary}")


def _build(args: argparse.Namespace) -> None:
    from scenarios import build
    from scenarios.generator import build as build_generated
    from scenarios.generator import is_generated

    t0 = time.perf_counter()
    sc = (build_generated if is_generated(args.name) else build)(
        args.name, args.seed, cache_dir=args.cache_dir, horizon=args.horizon, demand_scale=args.demand_scale
    )
    print(f"{sc.name} (seed {args.seed}) built in {time.perf_counter() - t0:.1f} s")
    print(f"  folder: {sc.net_file.parent}")
    print(f"  net:    {sc.net_file}")
    for rf in sc.route_files:
        print(f"  routes: {rf}")
    print(f"  horizon: {sc.begin:.0f}-{sc.end:.0f} s; card: {sc.net_file.parent / 'card.md'}")


def _info(args: argparse.Namespace) -> None:
    from scenarios import describe

    print(describe(args.name_or_path))


def _calibrate(args: argparse.Namespace) -> None:
    """Run the scenario under static and actuated signals with plain sumo and print trip stats."""
    from scenarios.builder import build_files, entry
    from scenarios.measure import run_stats
    from scenarios.networks import SignalPlan

    spec = entry(args.name)
    horizon = args.horizon or spec.horizon
    with tempfile.TemporaryDirectory(prefix="wuxi-calibrate-") as tmp:
        for tls_type in args.plans.split(","):
            if tls_type not in ("static", "actuated"):
                raise TSCError(f"--plans: {tls_type!r} is not a plan; use static, actuated or both.")
            folder = Path(tmp) / tls_type
            folder.mkdir()
            plan = SignalPlan(spec.plan.cycle, spec.plan.yellow, spec.plan.left_green, tls_type)
            t0 = time.perf_counter()
            sc = build_files(spec, folder, args.seed, horizon, args.demand_scale, plan)
            built = time.perf_counter() - t0
            t0 = time.perf_counter()
            stats = run_stats(sc, args.sumo_seed, end=sc.end + args.drain)
            print(
                f"{args.name} {tls_type:<8} build {built:.1f} s, sim {time.perf_counter() - t0:.1f} s: "
                f"{stats.summary()}",
                flush=True,
            )


def _import_osm(args: argparse.Namespace) -> None:
    from scenarios.osm import OsmOptions, import_osm

    t0 = time.perf_counter()
    opts = OsmOptions(name=args.name, seed=args.seed, horizon=args.horizon, veh_per_hour=args.veh_per_hour)
    sc = import_osm(args.file, args.out, opts)
    cfg = sc.net_file.parent / f"{sc.name}.sumocfg"
    print(f"{args.file} imported in {time.perf_counter() - t0:.1f} s")
    print(f"  scenario: {cfg}  (python evaluate.py --scenario {cfg})")
    print(f"  card:     {sc.net_file.parent / 'card.md'}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m scenarios", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the catalogue").set_defaults(func=_list)
    b = sub.add_parser("build", help="build (or fetch from the cache) a catalogue or generated scenario")
    b.add_argument("name")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--horizon", type=float, default=None, help="episode length in seconds")
    b.add_argument("--demand-scale", type=float, default=1.0)
    b.add_argument("--cache-dir", type=Path, default=None)
    b.set_defaults(func=_build)
    i = sub.add_parser("info", help="print a scenario's card or an external scenario's summary")
    i.add_argument("name_or_path")
    i.set_defaults(func=_info)
    c = sub.add_parser("calibrate", help="measure static vs actuated signals with plain sumo")
    c.add_argument("name")
    c.add_argument("--seed", type=int, default=0, help="build seed")
    c.add_argument("--sumo-seed", type=int, default=1)
    c.add_argument("--horizon", type=float, default=None)
    c.add_argument("--demand-scale", type=float, default=1.0)
    c.add_argument("--drain", type=float, default=900.0, help="extra seconds to let vehicles finish")
    c.add_argument("--plans", default="static,actuated", help="comma-separated: static, actuated")
    c.set_defaults(func=_calibrate)
    o = sub.add_parser("import-osm", help="import an OpenStreetMap extract (.osm / .osm.gz) as a scenario")
    o.add_argument("file", type=Path)
    o.add_argument("--name", default=None, help="scenario name (default: the file's stem)")
    o.add_argument("--out", type=Path, default=None, help="output folder (default: ./NAME)")
    o.add_argument("--seed", type=int, default=0, help="route sampling seed")
    o.add_argument("--horizon", type=float, default=3600.0)
    o.add_argument("--veh-per-hour", type=float, default=None, help="peak demand (default 60 per signal)")
    o.set_defaults(func=_import_osm)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except TSCError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
