"""Export of the phase-competition policy (issue 13, item 5): one ``policy.onnx`` with dynamic agent,
movement and phase axes runs nets of different shapes; parity with PyTorch; a movement manifest;
refusals naming the file and field; a torch-free runtime; the ``onnx:`` controller in the harness.

One tiny phase-competition run (neighbour context on) is trained on ``wuxi-single`` (seconds) and
exported once per module; the nets it is then run on (``wuxi-core``: 16 four-green
crossings; the mixed external net: a 4-green crossing and a 2-green T) have other shapes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
from tiny import train_tiny

from agents.movement_inputs import MovementInputs
from core.errors import ExportError
from envs import TrafficSignalEnv
from envs.observations import MOVEMENT_FEATURE_SPEC, MOVEMENT_FEATURES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generalist(tmp_path_factory: pytest.TempPathFactory, tmp_cache: Path) -> tuple[Path, Path]:
    """``(run_dir, export_dir)``: a tiny phase-competition run, exported into ``RUN/export``."""
    run = train_tiny(
        tmp_path_factory.mktemp("generalist-run"),
        "env.observation=movement",
        "ppo.policy=phase_competition",
        "ppo.net_arch=[32]",
        "env.critic_obs=false",
        "env.neighbour_obs=true",
        "env.max_lanes=null",
        "env.max_phases=null",
        "warm_start.steps=0",
    )
    from agents.export import export

    assert export(run) == run / "export" / "policy.json"  # what `python -m agents.export RUN` runs
    return run, run / "export"


def _copy_with(export_dir: Path, dest: Path, edit) -> Path:
    shutil.copytree(export_dir, dest)
    path = dest / "policy.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    return dest


def _record(controller, scenario, seed: int, steps: int, torch_policy=None) -> tuple[np.ndarray, ...]:
    """Observations, masks and actions of ``steps`` decisions under ``controller`` (``(T*A, size)``,
    ``(T*A, P)``, ``(T*A,)``), each row's true ``(movements, greens)``, and, with ``torch_policy``,
    what it chose on the same decisions."""
    with TrafficSignalEnv(scenario, controller.env_config) as env:
        obs, infos = env.reset(seed=seed)
        controller.reset(env, seed)
        if torch_policy is not None:
            torch_policy.reset(env, seed)
        agents = list(env.possible_agents)
        sizes = [(env.specs[a].link_lanes.shape[0], env.phase_sets[a].n_greens) for a in agents]
        rows, masks, chosen, torch_chosen = [], [], [], []
        for _ in range(steps):
            rows += [obs[a] for a in agents]
            masks += [infos[a]["action_mask"] for a in agents]
            actions = controller.act(obs, infos)
            chosen += [actions[a] for a in agents]
            if torch_policy is not None:
                other = torch_policy.act(obs, infos)
                torch_chosen += [other[a] for a in agents]
            obs, _, _, _, infos = env.step(actions)
        return np.stack(rows), np.stack(masks), np.array(chosen), sizes * steps, np.array(torch_chosen)


def _greedy(logits: np.ndarray) -> np.ndarray:
    """The first green within the tie tolerance of the best (agents.phase_competition.greedy_green)."""
    from agents.phase_competition import TIE_TOLERANCE

    return (logits >= logits.max(axis=1, keepdims=True) - TIE_TOLERANCE).argmax(axis=1)


def _split(controller, obs: np.ndarray, masks: np.ndarray) -> MovementInputs:
    x = controller.movement_shape.split(obs)
    return MovementInputs(x.movements, x.served, x.current, masks, x.time_in_green, x.context)


# ------------------------------------------------------------------------------------ the export
def test_export_has_dynamic_axes_and_a_movement_manifest(generalist) -> None:
    from core.files import sha256

    run, folder = generalist
    manifest = json.loads((folder / "policy.json").read_text())
    assert manifest["format"] == "wuxi-tsc-movement-policy/1" and manifest["policy"] == "phase_competition"
    assert manifest["sha256"] == sha256(folder / "policy.onnx")
    assert [f["name"] for f in manifest["movement_features"]] == [n for n, _ in MOVEMENT_FEATURE_SPEC]
    assert manifest["context_size"] == 8  # 4 neighbours x (density, queue)
    assert manifest["inputs"]["served"]["shape"] == ["N", "P", "M"]
    assert set(manifest["axes"]) == {"N", "M", "P"}
    for key in ("max_lanes", "max_phases", "max_movements"):  # no padding: any net
        assert manifest["env_config"][key] is None
    assert manifest["timing"]["min_green"] == manifest["env_config"]["min_green"]
    assert manifest["timing"]["delta_time"] == manifest["env_config"]["delta_time"]
    graph = onnx.load(folder / "policy.onnx").graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims == {
        "movements": ["N", "M", MOVEMENT_FEATURES],
        "served": ["N", "P", "M"],
        "current": ["N", "P"],
        "time_in_green": ["N", 1],
        "action_mask": ["N", "P"],
        "context": ["N", 8],
    }
    assert {o.name for o in graph.output} == {"logits", "action"}


def test_onnx_matches_pytorch_on_nets_of_different_shapes(generalist, core_scenario, mixed_external) -> None:
    """One ONNX session and one PyTorch policy, in one process, on two nets of other shapes."""
    from agents.controller import PolicyController
    from agents.export import MASKED_LOGIT
    from agents.export_generalist import torch_movement_logits
    from agents.runtime import CHUNK, OnnxController

    run, folder = generalist
    torch_policy, onnx_controller = PolicyController(run), OnnxController(folder)
    net = torch_policy.model.policy.mlp_extractor
    shapes, batches = [], []
    for scenario in (core_scenario, mixed_external):
        obs, masks, chosen, _, torch_chosen = _record(onnx_controller, scenario, 2, 20, torch_policy)
        x = _split(onnx_controller, obs, masks)
        shapes.append(x.served.shape[1:])
        assert (~masks).any() and x.movements[:, :, 0].any()  # masked greens, and traffic
        logits, actions = onnx_controller.policy.movement_logits_and_actions(x)
        ref = torch_movement_logits(net, x)
        assert logits.shape == ref.shape == masks.shape
        np.testing.assert_allclose(logits[masks], ref[masks], atol=1e-5)
        assert (logits[~masks] == MASKED_LOGIT).all()
        np.testing.assert_array_equal(actions, _greedy(ref))
        assert masks[np.arange(len(actions)), actions].all()
        # the onnx: and ppo:RUN controllers (PyTorch on the flat observation) decided alike
        np.testing.assert_array_equal(chosen, actions)
        np.testing.assert_array_equal(torch_chosen, actions)
        batches.append(len(obs))
    assert shapes[0] != shapes[1], shapes  # (P, M) of wuxi-core vs the mixed net
    assert max(batches) > CHUNK > min(batches)  # the runtime's calls of CHUNK agents, and one call


def test_junction_arrays_of_their_own_sizes_give_the_padded_decisions(generalist, mixed_external) -> None:
    """Per-junction arrays cut to each junction's own (M, P), batched with padding by the
    runtime, give what the env's padded observation gives."""
    from agents.runtime import OnnxController

    _, folder = generalist
    controller = OnnxController(folder)
    obs, masks, _, sizes, _ = _record(controller, mixed_external, seed=3, steps=10)
    x = _split(controller, obs, masks)
    ref_logits, ref_actions = controller.policy.movement_logits_and_actions(x)
    junctions = []
    for k, (m, p) in enumerate(sizes):
        assert not x.movements[k, m:].any() and not x.served[k, p:].any()  # what is cut is padding
        junctions.append(
            MovementInputs(
                x.movements[k : k + 1, :m],
                x.served[k : k + 1, :p, :m],
                x.current[k : k + 1, :p],
                masks[k : k + 1, :p],
                x.time_in_green[k : k + 1],
                x.context[k : k + 1],
            )
        )
    assert len({j.served.shape for j in junctions}) == 2  # the 4-green crossing and the 2-green T
    results = controller.policy.junction_logits_and_actions(junctions)
    for k, (logits, actions) in enumerate(results):
        p = sizes[k][1]
        assert logits.shape == (1, p)
        np.testing.assert_allclose(logits[0], ref_logits[k, :p], atol=1e-5)
        assert actions[0] == ref_actions[k]


def test_onnx_and_pytorch_give_identical_metrics_on_a_net_never_seen(
    generalist, mixed_external, tmp_path: Path
) -> None:
    from evaluation import make_eval_config, run
    from evaluation.harness import load_records

    run_dir, folder = generalist
    config = make_eval_config(
        {
            "scenarios": [
                {
                    "name": "mixed",
                    "net": str(mixed_external.net_file),
                    "routes": [str(r) for r in mixed_external.route_files],
                    "end": mixed_external.end,
                }
            ],
            "controllers": [f"ppo=ppo:{run_dir}", f"onnx=onnx:{folder}"],
            "seeds": [7],
            "workers": 0,
            "out": str(tmp_path / "res"),
            "series_period": 30,
        }
    )
    out = run(config, progress=False, plots=False)
    records = {r["controller"]: r for r in load_records(out)}
    assert records["onnx"]["metrics"]["vehicles"] > 0
    assert records["onnx"]["metrics"] == records["ppo"]["metrics"]
    assert records["onnx"]["series"] == records["ppo"]["series"]


# ------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m: m.update(format="wuxi-tsc-movement-policy/2"),
            "format 'wuxi-tsc-movement-policy/2' is not",
        ),
        (lambda m: m.pop("format"), "format None is not one this runtime reads"),
        (lambda m: m.pop("context_size"), r"lacks \['context_size'\]"),
        (lambda m: m["movement_features"][0].update(name="speed"), "movement_features .* differ"),
        (lambda m: m.update(context_size=0), r"inputs .* are not .*context_size 0"),
    ],
    ids=["future-version", "no-format", "no-context-size", "other-features", "other-inputs"],
)
def test_manifests_the_runtime_does_not_understand_are_refused(generalist, tmp_path, edit, message) -> None:
    from agents.runtime import OnnxController

    folder = _copy_with(generalist[1], tmp_path / "export", edit)
    with pytest.raises(ExportError, match=message) as err:
        OnnxController(folder)
    assert str(folder / "policy.json") in str(err.value)


def test_inputs_of_the_wrong_shape_are_refused(generalist) -> None:
    from agents.runtime import OnnxPolicy

    policy = OnnxPolicy(generalist[1])
    n, m, p = 2, 6, 3
    good = MovementInputs(
        np.zeros((n, m, MOVEMENT_FEATURES)), np.zeros((n, p, m)), np.zeros((n, p)),
        np.ones((n, p), dtype=bool), np.zeros((n, 1)), np.zeros((n, 8)),
    )  # fmt: skip
    logits, actions = policy.movement_logits_and_actions(good)
    assert logits.shape == (n, p) and actions.shape == (n,)
    bad = {
        "movements": (MovementInputs(**{**vars(good), "movements": np.zeros((n, m, 5))}), r"\(N, M, 7\)"),
        "served": (MovementInputs(**{**vars(good), "served": np.zeros((n, p, m + 1))}), "served has shape"),
        "mask": (
            MovementInputs(**{**vars(good), "action_mask": np.ones((n, p + 1), bool)}),
            "action_mask has",
        ),
        "no context": (MovementInputs(**{**vars(good), "context": None}), "context is missing"),
        "context": (MovementInputs(**{**vars(good), "context": np.zeros((n, 3))}), r"context has shape"),
    }
    for _, (x, message) in bad.items():
        with pytest.raises(ExportError, match=message):
            policy.movement_logits_and_actions(x)
    with pytest.raises(ExportError, match="junction 1: input served"):
        policy.junction_logits_and_actions([good, bad["served"][0]])
    with pytest.raises(ExportError, match="takes movement inputs, not a flat observation"):
        policy.logits_and_actions(np.zeros((n, 10)), np.ones((n, p), dtype=bool))


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"neighbour_obs": False}, r"env.neighbour_obs=False gives 0 context entries.*context_size"),
        ({"observation": "approach"}, "env.observation is 'approach'"),
    ],
)
def test_envs_with_other_observation_settings_are_refused(
    generalist, mixed_external, update, message
) -> None:
    from agents.runtime import OnnxController

    controller = OnnxController(generalist[1])
    with TrafficSignalEnv(mixed_external, controller.env_config.model_copy(update=update)) as env:
        env.reset(seed=1)
        with pytest.raises(ExportError, match=message):
            controller.reset(env, 1)


# ------------------------------------------------------------------------------------ torch-free
def test_runtime_runs_junctions_of_two_shapes_without_torch(generalist) -> None:
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from agents.movement_inputs import MovementInputs
        from evaluation.config import EvalConfig
        from evaluation.controllers import make_controller

        policy = make_controller("onnx:{generalist[1]}", EvalConfig().controller_settings).policy
        def junction(m, p):
            rng = np.random.default_rng(m)
            return MovementInputs(rng.random((1, m, 7)), (rng.random((1, p, m)) < 0.4) * 1.0,
                                  np.eye(p)[:1], np.ones((1, p), bool), np.zeros((1, 1)), np.zeros((1, 8)))
        out = policy.junction_logits_and_actions([junction(12, 4), junction(5, 2), junction(30, 8)])
        assert [o[0].shape for o in out] == [(1, 4), (1, 2), (1, 8)], out
        heavy = [m for m in ("torch", "stable_baselines3", "sb3_contrib") if m in sys.modules]
        assert not heavy, heavy
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
