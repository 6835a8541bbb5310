"""Export for ops (issue 5): ONNX vs PyTorch parity on recorded observations, identical harness
metrics, refusal of mismatched scenarios and tampered files, a torch-free runtime, the export CLI.

One tiny policy is trained on ``wuxi-single`` (a few seconds) and exported with the CLI once per
module; every test reads that export or a copy it edits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from tiny import train_tiny

from core.errors import ExportError
from scenarios.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
MIN_RECORDED = 1000  # issue 5: parity on at least 1,000 recorded observations


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, tmp_cache: Path
) -> tuple[Path, subprocess.CompletedProcess]:
    """``(run_dir, export CLI result)``: a tiny trained run, exported with ``python -m agents.export``."""
    root = tmp_path_factory.mktemp("export-run")
    run = train_tiny(root, "warm_start.steps=0")
    cli = subprocess.run(
        [sys.executable, "-m", "agents.export", str(run)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    return run, cli


@pytest.fixture()
def export_dir(exported: tuple[Path, subprocess.CompletedProcess]) -> Path:
    run, cli = exported
    assert cli.returncode == 0, cli.stderr[-3000:]
    return run / "export"


def _copy_export(export_dir: Path, dest: Path) -> Path:
    shutil.copytree(export_dir, dest)
    return dest


def _edit_manifest(folder: Path, edit) -> None:
    path = folder / "policy.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def _record(controller, scenario: Scenario, seeds: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(obs, masks, actions)`` of every decision of ``controller`` in evaluation episodes."""
    from envs import TrafficSignalEnv

    obs_rows, mask_rows, action_rows = [], [], []
    with TrafficSignalEnv(scenario, controller.env_config) as env:
        for seed in seeds:
            observations, infos = env.reset(seed=seed)
            controller.reset(env, seed)
            while env.agents:
                actions = controller.act(observations, infos)
                for agent, action in actions.items():
                    obs_rows.append(observations[agent])
                    mask_rows.append(infos[agent]["action_mask"])
                    action_rows.append(action)
                observations, _, _, _, infos = env.step(actions)
    return np.array(obs_rows, dtype=np.float32), np.array(mask_rows, dtype=bool), np.array(action_rows)


# ------------------------------------------------------------------------------------ parity
def test_onnx_matches_pytorch_on_recorded_observations(
    exported, export_dir: Path, single_scenario: Scenario, mixed_external: Scenario
) -> None:
    from agents.controller import PolicyController
    from agents.export import MASKED_LOGIT, torch_logits
    from agents.runtime import OnnxPolicy

    run, _ = exported
    torch_policy = PolicyController(run)
    # wuxi-single (1 signal, 4 greens) and the mixed external net (a 4-green crossing and a
    # 2-green T, so half of T's actions are masked): the fixed padding (max_lanes 16,
    # max_phases 4) gives both the policy's observation size.
    parts = [
        _record(torch_policy, single_scenario, list(range(1, 11))),
        _record(torch_policy, mixed_external, [1, 2, 3, 4]),
    ]
    obs, masks, ppo_actions = (np.concatenate(x) for x in zip(*parts))
    assert len(obs) >= MIN_RECORDED, len(obs)
    assert (~masks).any(), "the recording should include masked actions"
    assert masks[np.arange(len(obs)), ppo_actions].all()  # PyTorch only chose allowed phases

    onnx_logits, onnx_actions = OnnxPolicy(export_dir).logits_and_actions(obs, masks)  # one batch
    ref = torch_logits(torch_policy.model, obs, masks)
    assert onnx_logits.shape == ref.shape == masks.shape
    diff = np.abs(onnx_logits - ref)[masks]
    assert diff.max() < 1e-5, f"max abs diff of allowed logits {diff.max():.3g}"
    assert (onnx_logits[~masks] == MASKED_LOGIT).all()  # masking is folded into the graph
    np.testing.assert_array_equal(onnx_actions, ppo_actions)
    np.testing.assert_array_equal(onnx_actions, ref.argmax(axis=1))


def test_onnx_and_pytorch_give_identical_evaluation_metrics(
    exported, export_dir: Path, tmp_path: Path
) -> None:
    from evaluation import make_eval_config, run
    from evaluation.harness import load_records

    run_dir, _ = exported
    config = make_eval_config(
        {
            "scenarios": [{"name": "wuxi-single", "horizon": 300}],
            "controllers": [f"ppo=ppo:{run_dir}", f"onnx=onnx:{export_dir}"],
            "seeds": [7],
            "workers": 0,
            "out": str(tmp_path / "res"),
            "series_period": 30,
        }
    )
    out = run(config, progress=False, plots=False)
    records = {r["controller"]: r for r in load_records(out)}
    assert set(records) == {"ppo", "onnx"}
    assert records["onnx"]["metrics"]["vehicles"] > 0
    assert records["onnx"]["metrics"] == records["ppo"]["metrics"]
    assert records["onnx"]["series"] == records["ppo"]["series"]


# ------------------------------------------------------------------------------------ refusals
@pytest.fixture()
def no_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any decision of the ONNX controller fail the test: refusals must come before it."""
    from agents.runtime import OnnxController

    def act(self, observations, infos):
        raise AssertionError("the ONNX controller acted on a mismatched scenario")

    monkeypatch.setattr(OnnxController, "act", act)


def _run_onnx(folder: Path, scenario: Scenario) -> None:
    from evaluation.config import ControllerEntry, EvalConfig
    from evaluation.harness import run_episode

    run_episode(scenario, ControllerEntry.model_validate(f"onnx:{folder}"), 1, EvalConfig(workers=0))


def test_other_intersection_ids_are_refused(
    export_dir: Path, mixed_external: Scenario, no_step: None
) -> None:
    with pytest.raises(ExportError, match=r"intersections \['C', 'T'\].*does not list"):
        _run_onnx(export_dir, mixed_external)


def test_other_phase_lists_are_refused(
    export_dir: Path, tmp_path: Path, single_scenario: Scenario, no_step: None
) -> None:
    folder = _copy_export(export_dir, tmp_path / "export")

    def swap_two_greens(manifest: dict) -> None:
        (tls,) = manifest["intersections"]
        greens = manifest["intersections"][tls]["greens"]
        greens[0], greens[1] = greens[1], greens[0]

    _edit_manifest(folder, swap_two_greens)
    with pytest.raises(ExportError, match="green phases .* differ from the manifest"):
        _run_onnx(folder, single_scenario)


def test_other_observation_size_is_refused(
    export_dir: Path, tmp_path: Path, single_scenario: Scenario, no_step: None
) -> None:
    from agents.runtime import OnnxController
    from envs import TrafficSignalEnv

    # a manifest whose env_config no longer gives the model's input size (padding edited)
    controller = OnnxController(export_dir)
    expected = f"differs from the manifest's {controller.policy.n_obs}"
    folder = _copy_export(export_dir, tmp_path / "export")
    _edit_manifest(folder, lambda m: m["env_config"].update(max_lanes=m["env_config"]["max_lanes"] + 4))
    with pytest.raises(ExportError, match=rf"observation size \d+ {expected}"):
        _run_onnx(folder, single_scenario)
    # and an env built with other observation settings than the manifest's
    with TrafficSignalEnv(
        single_scenario, controller.env_config.model_copy(update={"neighbour_obs": False})
    ) as env:
        env.reset(seed=1)
        with pytest.raises(ExportError, match=rf"observation size \d+ {expected}"):
            controller.reset(env, 1)


@pytest.mark.parametrize("damage", ["flip_byte", "missing"])
def test_tampered_model_is_refused(export_dir: Path, tmp_path: Path, damage: str) -> None:
    from agents.runtime import OnnxController

    folder = _copy_export(export_dir, tmp_path / "export")
    model = folder / "policy.onnx"
    if damage == "flip_byte":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0x01
        model.write_bytes(bytes(data))
    else:
        model.unlink()
    with pytest.raises(ExportError, match="sha256"):
        OnnxController(folder)
    with pytest.raises(ExportError, match="not found"):
        OnnxController(tmp_path / "nowhere")


# ------------------------------------------------------------------------------------ torch-free
def test_runtime_imports_no_torch_or_sb3(export_dir: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import agents.runtime
        from evaluation.config import EvalConfig
        from evaluation.controllers import make_controller

        controller = make_controller("onnx:{export_dir}", EvalConfig().controller_settings)
        policy = controller.policy
        logits, actions = policy.logits_and_actions(np.zeros((16, policy.n_obs)),
                                                    np.ones((16, policy.n_actions), dtype=bool))
        assert logits.shape == (16, policy.n_actions) and actions.shape == (16,)
        heavy = [m for m in ("torch", "stable_baselines3", "sb3_contrib") if m in sys.modules]
        assert not heavy, heavy
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


# ------------------------------------------------------------------------------------ CLI
def test_export_cli_writes_model_and_manifest(exported) -> None:
    from core.files import sha256

    run, cli = exported
    assert cli.returncode == 0, cli.stderr[-3000:]
    folder = run / "export"
    assert (folder / "policy.onnx").is_file() and (folder / "policy.json").is_file()
    assert str(folder / "policy.onnx") in cli.stdout
    manifest = json.loads((folder / "policy.json").read_text())
    assert manifest["sha256"] == sha256(folder / "policy.onnx")
    assert manifest["scenario"] == "wuxi-single" and manifest["trained_model"] == "final_model.zip"
    assert Path(manifest["training_run"]) == run.resolve()
    n_obs, n_actions = manifest["observation"]["size"], manifest["env_config"]["max_phases"]
    assert manifest["inputs"] == {"obs": [None, n_obs], "action_mask": [None, n_actions]}
    assert n_obs == sum(b["size"] for b in manifest["observation"]["layout"])
    (greens,) = [v["greens"] for v in manifest["intersections"].values()]
    assert len(greens) == 4  # wuxi-single: one signal with 4 greens
    env_cfg = yaml.safe_load((run / "config.yaml").read_text())["env"]
    assert manifest["timing"]["delta_time"] == env_cfg["delta_time"]
    assert manifest["timing"]["min_green"] == env_cfg["min_green"]
    assert manifest["timing"]["max_red"] == env_cfg["max_red"]  # ops must know the starvation guard
    assert {"torch", "onnxruntime"} <= set(manifest["versions"])


def test_export_cli_without_a_model_exits_2_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "agents.export", str(empty)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "final_model.zip" in lines[0], proc.stderr
    assert not empty.joinpath("export").exists()


def test_incomplete_manifest_is_refused(export_dir: Path, tmp_path: Path) -> None:
    from agents.runtime import OnnxController

    folder = _copy_export(export_dir, tmp_path / "export")
    _edit_manifest(folder, lambda m: m.pop("sha256"))
    with pytest.raises(ExportError, match="sha256"):
        OnnxController(folder)
