"""The random-network generator (scenarios/generator.py, issue 13): names, determinism by seed, the
cache, and issue 13's acceptance that any net runs under a layout-free policy with no padding
settings (2, 3, 5 and 8 greens; 20+ incoming lanes at one junction)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import gymnasium
import numpy as np
import pytest

import scenarios
from core.errors import ScenarioError
from core.files import sha256
from scenarios import generator
from scenarios.generator import GridVariant, SpiderVariant, build_variant, variant
from scenarios.netinfo import read_net

ROOT = Path(__file__).resolve().parent.parent
SHORT = 120.0


def _hashes(sc: scenarios.Scenario) -> tuple[str, ...]:
    return (sha256(sc.net_file), *(sha256(p) for p in sc.route_files))


def test_the_seed_fixes_the_files_and_other_seeds_give_other_nets(tmp_path: Path) -> None:
    a = scenarios.resolve("generated:irregular", seed=3, cache_dir=tmp_path / "a", horizon=SHORT)
    b = scenarios.resolve("generated:irregular", seed=3, cache_dir=tmp_path / "b", horizon=SHORT)
    other = scenarios.resolve("generated:irregular", seed=4, cache_dir=tmp_path / "a", horizon=SHORT)
    assert a.net_file.parent != b.net_file.parent
    assert _hashes(a) == _hashes(b)
    assert sha256(other.net_file) != sha256(a.net_file)
    assert (a.name, other.name) == ("generated:irregular:3", "generated:irregular:4")
    assert scenarios.resolve(a.name, cache_dir=tmp_path / "a", horizon=SHORT).net_file == a.net_file
    assert (a.begin, a.end) == (0.0, SHORT) and "--time-to-teleport" in a.sumo_args
    assert 'period="exp(' in a.route_files[0].read_text()  # SUMO's seed draws the arrivals
    assert "iterations" in a.card and "Scenario seed | 3" in a.card and "green phases" in a.card
    signals = read_net(a.net_file).signals
    assert 2 <= len(signals) <= generator.MAX_SIGNALS and all(s.n_greens >= 2 for s in signals)


def test_a_second_resolve_is_a_cache_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = scenarios.resolve("generated:spider", seed=1, cache_dir=tmp_path, horizon=SHORT)

    def no_build(*_: object) -> None:
        raise AssertionError("a cached variant was built again")

    monkeypatch.setattr(generator, "_build_files", no_build)
    again = scenarios.resolve("generated:spider", seed=1, cache_dir=tmp_path, horizon=SHORT)
    assert again == first
    assert [p.name for p in tmp_path.iterdir()] == [first.net_file.parent.name]
    with pytest.raises(AssertionError, match="built again"):  # another horizon is another entry
        scenarios.resolve("generated:spider", seed=1, cache_dir=tmp_path, horizon=2 * SHORT)


def test_two_processes_resolving_the_same_variant_at_once_share_one_entry(tmp_path: Path) -> None:
    code = (
        "import sys, scenarios; "
        "print(scenarios.resolve('generated:mixed', seed=5, cache_dir=sys.argv[1], horizon=60).net_file)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] and Path(outs[0]).is_file()
    assert [p.name for p in tmp_path.iterdir()] == [Path(outs[0]).parent.name]  # no temporaries left


def test_arterial_gives_isolated_junctions_and_short_arterials(tmp_path: Path) -> None:
    nets = {k: variant("arterial", k).network for k in range(24)}
    assert {n.ny for n in nets.values()} == {1} and {n.nx for n in nets.values()} == {1, 2, 3, 4}
    single = next(k for k, n in nets.items() if n.nx == 1)
    three = next(k for k, n in nets.items() if n.nx == 3)
    for k, count in ((single, 1), (three, 3)):
        sc = scenarios.resolve(f"generated:arterial:{k}", cache_dir=tmp_path, horizon=SHORT)
        signals = read_net(sc.net_file).signals
        assert len(signals) == count and all(s.n_greens >= 2 for s in signals)


def test_mixed_picks_a_family_by_seed() -> None:
    picked = {variant("mixed", k).family for k in range(30)}
    assert picked == {"grid", "irregular", "spider"}
    assert variant("mixed", 7) == variant(variant("mixed", 7).family, 7)
    assert variant("grid", 1) != variant("grid", 2)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("generated:hexagon", "'hexagon'.*grid, irregular, spider, arterial, mixed"),
        ("generated:", "unknown generator family ''"),
        ("generated:grid:x", "seed 'x' is not a whole number"),
        ("generated:grid:1:2", "too many"),
    ],
)
def test_a_bad_generator_name_is_named_with_the_families(name: str, match: str, tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=match):
        scenarios.resolve(name, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_catalogue_listing_and_unknown_names_mention_the_generator(capsys: pytest.CaptureFixture) -> None:
    from scenarios.__main__ import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(f"generated:{f}" in out for f in generator.FAMILIES)
    with pytest.raises(ScenarioError, match="generated:grid"):
        scenarios.resolve("no-such-scenario")


# ---------------------------------------------------------------- issue 13's acceptance
@pytest.fixture(scope="module")
def untrained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding an untrained phase-competition policy whose training layout (12
    movements, 4 greens) is none of the nets below, and the config the trainer would save."""
    import torch
    from sb3_contrib import MaskablePPO

    from agents.config import TrainConfig
    from agents.networks import policy_class, policy_kwargs
    from agents.phase_competition import MovementShape
    from core.config import dump_config, validate

    config = validate(
        TrainConfig,
        {"env": {"observation": "movement"}, "ppo": {"policy": "phase_competition", "net_arch": [16]}},
        "config",
    )
    shape = MovementShape(movements=12, phases=4)
    spaces = SimpleNamespace(
        observation_space=gymnasium.spaces.Box(0.0, 1.0, (shape.size,), np.float32),
        action_space=gymnasium.spaces.Discrete(shape.phases),
        n_actions=shape.phases,
    )
    torch.manual_seed(0)
    model = MaskablePPO(
        policy_class(config), _SpacesOnly(spaces), policy_kwargs=policy_kwargs(config, spaces), device="cpu"
    )
    run = tmp_path_factory.mktemp("untrained-run")
    model.save(run / "final_model.zip")
    (run / "config.yaml").write_text(dump_config(config))
    return run


class _SpacesOnly(gymnasium.Env):
    """An env that only has spaces: enough to construct (not train) a model."""

    def __init__(self, spaces: SimpleNamespace) -> None:
        self.observation_space, self.action_space = spaces.observation_space, spaces.action_space


def _grid(left: str, lanes: int) -> generator.Variant:
    net = GridVariant(nx=2, ny=2, block=250.0, attach=150.0, lanes=lanes, left=left, speed_kmh=50.0)
    return dataclasses.replace(variant("grid", 0), network=net)


def _spider(arms: int, lanes: int) -> generator.Variant:
    net = SpiderVariant(arms, 1, 250.0, omit_center=False, lanes=lanes, turn_lanes=1, speed_kmh=50.0)
    return dataclasses.replace(variant("spider", 0), network=net)


# "A1" is a junction of a 2x2 netgenerate grid and the centre of a spider.
@pytest.mark.parametrize(
    ("v", "greens", "lanes"),
    [
        (_grid("permitted", 1), 2, 4),  # lefts yield: two greens, one lane per arm
        (_spider(3, 2), 3, 9),  # a T centre, 2 lanes + a pocket per arm: three greens
        (_spider(5, 3), 5, 20),  # a 5-arm centre, 3 lanes + a pocket per arm: 20 incoming lanes
        (_grid("eight", 2), 8, 12),  # FRAP's eight phases
    ],
    ids=["2-greens", "3-greens", "5-greens-20-lanes", "8-greens"],
)
def test_any_net_runs_under_the_layout_free_policy_with_no_padding_settings(
    v: generator.Variant, greens: int, lanes: int, untrained_run: Path, tmp_cache: Path
) -> None:
    from agents.controller import PolicyController
    from envs import TrafficSignalEnv

    scenario = build_variant(v, cache_dir=tmp_cache, horizon=SHORT, demand_scale=2.0)
    controller = PolicyController(untrained_run)
    cfg = controller.env_config
    assert (cfg.max_lanes, cfg.max_phases, cfg.max_movements) == (None, None, None)
    with TrafficSignalEnv(scenario, cfg) as env:
        assert env.phase_sets["A1"].n_greens == greens
        assert len(env.specs["A1"].in_lanes) == lanes
        assert env.dims.max_phases >= greens and env.dims.max_lanes >= lanes
        assert env.obs_size != controller.n_obs  # not the layout the policy was made for
        obs, infos = env.reset(seed=1)
        controller.reset(env, 1)
        for _ in range(12):
            actions = controller.act(obs, infos)
            assert set(actions) == set(env.agents)
            assert all(infos[a]["action_mask"][actions[a]] for a in actions)
            obs, _, _, _, infos = env.step(actions)
            assert not any(infos[a]["action_overridden"] for a in actions)
        assert infos["A1"]["time"] > 0
