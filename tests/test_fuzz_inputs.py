"""Bad input, fuzzed (issue 7): property-based tests over configs and external scenario files.

Every generated case must end in the project's own exception (``ConfigError`` / ``ScenarioError``)
whose message names the field or the file, within seconds, with no SUMO process started or left.
The hand-written cases these generalise live in test_training.py, test_evaluation.py and
test_scenarios.py. Examples are few and deadlines short so the file runs in well under two minutes.
"""

from __future__ import annotations

import tempfile
import time
import types
import typing
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leaks import sumo_processes
from pydantic import BaseModel

import scenarios
from agents.config import TrainConfig
from core.config import load_config
from core.errors import ConfigError, ScenarioError
from envs.config import EnvConfig, make_env_config
from evaluation.config import EvalConfig, make_eval_config
from scenarios.scenario import Scenario

FUZZ = settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
FAST = 5.0  # seconds any single rejection may take


def rejected(exc_type: type[Exception], fn, *args, **kwargs) -> str:
    """Run ``fn``; it must raise ``exc_type`` quickly and leave no SUMO process. Return the message."""
    t0 = time.perf_counter()
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    assert time.perf_counter() - t0 < FAST
    assert not sumo_processes()
    return str(info.value)


# ============================================================================ configs
def _sections(model: type[BaseModel], prefix: str = "") -> dict[str, type[BaseModel]]:
    """Every (nested) sub-model of ``model`` by dotted path ("" is the model itself)."""
    out = {prefix: model}
    for name, f in model.model_fields.items():
        ann = f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(_sections(ann, f"{prefix}{name}."))
    return out


def _numeric_fields(model: type[BaseModel]) -> list[tuple[str, type]]:
    """``(dotted name, int|float)`` of every numeric leaf field, nested models included."""
    out = []
    for prefix, sub in _sections(model).items():
        for name, f in sub.model_fields.items():
            ann = f.annotation
            args = (
                [a for a in typing.get_args(ann) if a is not type(None)]
                if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union
                else [ann]
            )
            if len(args) == 1 and args[0] in (int, float):
                out.append((prefix + name, args[0]))
    return out


# Fields that are durations or lengths of time (seconds or minutes): negative values are nonsense.
TRAIN_DURATIONS = [
    "horizon",
    "max_minutes",
    "env.delta_time",
    "env.yellow_time",
    "env.min_green",
    "env.max_green",
    "env.jam_patience",
]
ENV_DURATIONS = ["delta_time", "yellow_time", "min_green", "max_green", "jam_patience"]
EVAL_DURATIONS = [
    "series_period",
    "env.delta_time",
    "env.min_green",
    "env.max_green",
    "controller_settings.actuated.min_green",
    "controller_settings.actuated.max_green",
    "controller_settings.actuated.max_gap",
    "controller_settings.actuated.detector_gap",
    "controller_settings.webster.min_cycle",
    "controller_settings.webster.max_cycle",
    "controller_settings.webster.min_green",
    "controller_settings.webster.interval",
    "scenarios.0.horizon",
    "scenarios.0.end",
]

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,14}", fullmatch=True)
negatives = st.one_of(st.floats(max_value=-1e-6, allow_nan=False), st.integers(max_value=-1))
# Values no numeric field may accept: containers, and text that is not a number.
not_numbers = st.one_of(
    st.lists(st.integers(), max_size=3),
    st.dictionaries(identifiers, st.integers(), max_size=2),
    st.text(alphabet="abcdefghjkmopqrsuvwxz", min_size=1, max_size=8),
)


def _nest(dotted: str, value: object) -> dict:
    """``"a.0.b", v`` -> ``{"a": [{"name": "x", "b": v}]}`` (a list index means the first scenario)."""
    head, _, rest = dotted.partition(".")
    if not rest:
        return {head: value}
    if rest.split(".")[0].isdigit():
        inner = rest.partition(".")[2]
        return {head: [{"name": "wuxi-core", **_nest(inner, value)}]}
    return {head: _nest(rest, value)}


def _field_named(message: str, where: str, dotted: str) -> bool:
    """The message names the field (``where.dotted``), or, for a cross-field check, the field name."""
    return f"{where}.{dotted}" in message or ("(root)" in message and dotted.split(".")[-1] in message)


@FUZZ
@given(section=st.sampled_from(sorted(_sections(TrainConfig))), key=identifiers, value=st.integers())
def test_train_config_unknown_key_is_named(section: str, key: str, value: int) -> None:
    if key in _sections(TrainConfig)[section].model_fields:
        return
    msg = rejected(ConfigError, load_config, TrainConfig, None, [f"{section}{key}={value}"])
    assert f"config.{section}{key}: unknown field" in msg


@FUZZ
@given(section=st.sampled_from(sorted(_sections(TrainConfig))), key=identifiers)
def test_train_config_file_with_unknown_key_is_named(section: str, key: str) -> None:
    if key in _sections(TrainConfig)[section].model_fields:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bad.yaml"
        data = _nest(f"{section}{key}", 1) if section else {key: 1}
        import yaml

        path.write_text(yaml.safe_dump(data))
        msg = rejected(ConfigError, load_config, TrainConfig, path)
    assert f"{section}{key}" in msg and "bad.yaml" in msg


@FUZZ
@given(field=st.sampled_from(_numeric_fields(TrainConfig)), value=not_numbers)
def test_train_config_wrong_type_is_named(field: tuple[str, type], value: object) -> None:
    import yaml

    name, _ = field
    override = f"{name}={yaml.safe_dump(value, default_flow_style=True).strip()}"
    msg = rejected(ConfigError, load_config, TrainConfig, None, [override])
    assert _field_named(msg, "config", name), msg


@FUZZ
@given(name=st.sampled_from(TRAIN_DURATIONS), value=negatives)
def test_train_config_negative_duration_is_named(name: str, value: float) -> None:
    msg = rejected(ConfigError, load_config, TrainConfig, None, [f"{name}={value!r}"])
    assert _field_named(msg, "config", name), msg


@FUZZ
@given(key=identifiers, value=st.one_of(st.integers(), st.text(max_size=5)))
def test_env_config_unknown_key_is_named(key: str, value: object) -> None:
    if key in EnvConfig.model_fields:
        return
    msg = rejected(ConfigError, make_env_config, {key: value})
    assert f"env.{key}: unknown field" in msg


@FUZZ
@given(field=st.sampled_from(_numeric_fields(EnvConfig)), value=not_numbers)
def test_env_config_wrong_type_is_named(field: tuple[str, type], value: object) -> None:
    msg = rejected(ConfigError, make_env_config, None, **{field[0]: value})
    assert _field_named(msg, "env", field[0]), msg


@FUZZ
@given(name=st.sampled_from(ENV_DURATIONS + ["green_durations"]), value=negatives)
def test_env_config_negative_duration_is_named(name: str, value: float) -> None:
    arg = (10.0, value) if name == "green_durations" else value
    msg = rejected(ConfigError, make_env_config, None, **{name: arg})
    assert _field_named(msg, "env", name), msg


@FUZZ
@given(
    section=st.sampled_from(
        [
            "",
            "env.",
            "controller_settings.",
            "controller_settings.actuated.",
            "controller_settings.webster.",
            "scenarios.0.",
        ]
    ),
    key=identifiers,
)
def test_eval_config_unknown_key_is_named(section: str, key: str) -> None:
    models = {
        "": EvalConfig,
        "env.": EnvConfig,
        "scenarios.0.": EvalConfig.model_fields["scenarios"].annotation.__args__[0],
    }  # type: ignore[union-attr]
    models.update({k: v for k, v in _sections(EvalConfig).items() if k.startswith("controller")})
    if key in models[section].model_fields:
        return
    msg = rejected(ConfigError, make_eval_config, _nest(f"{section}{key}", 1))
    assert f"eval.{section}{key}: unknown field" in msg, msg


@FUZZ
@given(field=st.sampled_from(_numeric_fields(EvalConfig)), value=not_numbers)
def test_eval_config_wrong_type_is_named(field: tuple[str, type], value: object) -> None:
    msg = rejected(ConfigError, make_eval_config, _nest(field[0], value))
    assert _field_named(msg, "eval", field[0]), msg


@FUZZ
@given(name=st.sampled_from(EVAL_DURATIONS), value=negatives)
def test_eval_config_negative_duration_is_named(name: str, value: float) -> None:
    msg = rejected(ConfigError, make_eval_config, _nest(name, value))
    assert _field_named(msg, "eval", name), msg


@FUZZ
@given(
    value=st.one_of(
        st.integers(max_value=0),
        st.lists(st.integers(min_value=1, max_value=3), min_size=2, max_size=4).filter(
            lambda xs: len(set(xs)) < len(xs)
        ),
    )
)
def test_eval_config_bad_seeds_are_named(value: object) -> None:
    msg = rejected(ConfigError, make_eval_config, {"seeds": value})
    assert "seeds" in msg


# ============================================================================ scenario files
FILE_NAMES = st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True)
NOT_GREEN = st.text(alphabet="rRyYuoOs", min_size=1, max_size=12)
EDGE_IDS = st.from_regex(r"[A-Za-z0-9_.#:-]{1,12}", fullmatch=True)


class Base(tuple):
    """(net text, route text, edge ids, signal ids) with a short repr for hypothesis' reports."""

    def __repr__(self) -> str:
        return "<mixed_external net + routes>"


@pytest.fixture(scope="module")
def base(mixed_external: Scenario) -> Base:
    """The mixed external scenario's net and route text, its edge ids and its signal ids."""
    net_text = mixed_external.net_file.read_text()
    root = ET.fromstring(net_text)
    edges = {e.get("id") for e in root.iter("edge") if e.get("function") != "internal"}
    tls = sorted({t.get("id") for t in root.iter("tlLogic")})
    return Base((net_text, mixed_external.route_files[0].read_text(), edges, tls))


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _sumocfg(folder: Path, net: str, routes: str, extra: str = "") -> Path:
    return _write(
        folder,
        "case.sumocfg",
        f"<configuration><input><net-file value={quoteattr(net)}/>"
        f"<route-files value={quoteattr(routes)}/></input>{extra}</configuration>",
    )


@FUZZ
@given(which=st.sampled_from(["net", "route", "additional", "sumocfg", "sumocfg-net"]), stem=FILE_NAMES)
def test_missing_file_is_named(base, which: str, stem: str) -> None:
    net_text, rou_text, _, _ = base
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net, rou = _write(folder, "ok.net.xml", net_text), _write(folder, "ok.rou.xml", rou_text)
        missing = folder / f"{stem}.{'sumocfg' if which == 'sumocfg' else 'xml'}"
        if which == "net":
            missing = folder / f"{stem}.net.xml"
            msg = rejected(ScenarioError, scenarios.load, missing, route_files=[rou])
        elif which == "route":
            msg = rejected(ScenarioError, scenarios.load, net, route_files=[rou, missing])
        elif which == "additional":
            msg = rejected(ScenarioError, scenarios.load, net, route_files=[rou], additional_files=[missing])
        elif which == "sumocfg":
            msg = rejected(ScenarioError, scenarios.load, missing)
        else:
            cfg = _sumocfg(folder, missing.name, rou.name)
            msg = rejected(ScenarioError, scenarios.load, cfg)
    assert str(missing) in msg and "does not exist" in msg


@FUZZ
@given(which=st.sampled_from(["net", "route", "additional", "sumocfg"]), cut=st.floats(0, 1))
def test_truncated_xml_is_named(base, which: str, cut: float) -> None:
    """Any proper prefix of an XML document (a file cut short by a crash or a full disk)."""
    net_text, rou_text, _, tls = base
    add_text = (
        f'<additional><tlLogic id="{tls[0]}" programID="p" type="static" offset="0">'
        '<phase duration="30" state="GGGrrrGGGrrr"/></tlLogic></additional>'
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        texts = {
            "net": net_text,
            "route": rou_text,
            "additional": add_text,
            "sumocfg": _sumocfg(folder, "x.net.xml", "x.rou.xml").read_text(),
        }
        full = texts[which].rstrip()
        texts[which] = full[: int(cut * (len(full) - 1))]
        net = _write(folder, "x.net.xml", texts["net"])
        rou = _write(folder, "x.rou.xml", texts["route"])
        add = _write(folder, "x.add.xml", texts["additional"])
        cfg = _write(folder, "case.sumocfg", texts["sumocfg"])
        bad = {"net": net, "route": rou, "additional": add, "sumocfg": cfg}[which]
        if which == "sumocfg":
            msg = rejected(ScenarioError, scenarios.load, cfg)
        else:
            msg = rejected(ScenarioError, scenarios.load, net, route_files=[rou], additional_files=[add])
    assert str(bad) in msg and "not well-formed" in msg


@FUZZ
@given(drop_tl_attrs=st.booleans(), retype=st.sampled_from(["priority", "right_before_left", None]))
def test_net_without_signals_is_named(base, drop_tl_attrs: bool, retype: str | None) -> None:
    net_text, rou_text, _, _ = base
    root = ET.fromstring(net_text)
    for logic in list(root.iter("tlLogic")):
        root.remove(logic)
    for el in root.iter():
        if drop_tl_attrs and el.tag == "connection":
            el.attrib.pop("tl", None)
            el.attrib.pop("linkIndex", None)
        if retype and el.tag == "junction" and el.get("type", "").startswith("traffic_light"):
            el.set("type", retype)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net = _write(folder, "nosignals.net.xml", ET.tostring(root, encoding="unicode"))
        rou = _write(folder, "r.rou.xml", rou_text)
        msg = rejected(ScenarioError, scenarios.load, net, route_files=[rou])
    assert str(net) in msg and "no traffic lights" in msg


@FUZZ
@given(
    bad_ids=st.lists(EDGE_IDS, min_size=1, max_size=4, unique=True),
    kind=st.sampled_from(["route", "trip-from", "trip-to", "flow-via", "vehicle-route"]),
    position=st.integers(0, 3),
)
def test_routes_over_missing_edges_are_named(base, bad_ids: list[str], kind: str, position: int) -> None:
    net_text, _, edges, _ = base
    bad_ids = [e for e in bad_ids if e not in edges]
    if not bad_ids:
        return
    good = sorted(edges)
    path = [good[0], good[1]]
    path[position % 2 : position % 2] = bad_ids
    edges_attr = quoteattr(" ".join(path))
    body = {
        "route": f'<route id="r" edges={edges_attr}/>',
        "trip-from": f'<trip id="t" depart="0" from={quoteattr(bad_ids[0])} to="{good[0]}"/>',
        "trip-to": f'<trip id="t" depart="0" from="{good[0]}" to={quoteattr(bad_ids[0])}/>',
        "flow-via": (
            f'<flow id="f" begin="0" end="10" number="2" from="{good[0]}" to="{good[1]}" '
            f"via={quoteattr(' '.join(bad_ids))}/>"
        ),
        "vehicle-route": f'<vehicle id="v" depart="0"><route edges={edges_attr}/></vehicle>',
    }[kind]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net = _write(folder, "n.net.xml", net_text)
        rou = _write(folder, "wrong.rou.xml", f"<routes>{body}</routes>")
        msg = rejected(ScenarioError, scenarios.load, net, route_files=[rou])
    assert str(rou) in msg and bad_ids[0] in msg


@FUZZ
@given(states=st.lists(NOT_GREEN, min_size=0, max_size=4), in_net=st.booleans(), which=st.integers(0, 1))
def test_signal_program_without_green_is_named(base, states: list[str], in_net: bool, which: int) -> None:
    net_text, rou_text, _, tls = base
    tls_id = tls[which % len(tls)]
    phases = "".join(f'<phase duration="30" state={quoteattr(s)}/>' for s in states)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rou = _write(folder, "r.rou.xml", rou_text)
        if in_net:
            root = ET.fromstring(net_text)
            logic = next(t for t in root.iter("tlLogic") if t.get("id") == tls_id)
            for p in list(logic.iter("phase")):
                logic.remove(p)
            for s in states:
                ET.SubElement(logic, "phase", duration="30", state=s)
            bad = _write(folder, "nogreen.net.xml", ET.tostring(root, encoding="unicode"))
            msg = rejected(ScenarioError, scenarios.load, bad, route_files=[rou])
        else:
            net = _write(folder, "n.net.xml", net_text)
            bad = _write(
                folder,
                "nogreen.add.xml",
                f'<additional><tlLogic id="{tls_id}" programID="p" type="static" offset="0">'
                f"{phases}</tlLogic></additional>",
            )
            msg = rejected(ScenarioError, scenarios.load, net, route_files=[rou], additional_files=[bad])
    assert str(bad) in msg and "no green phase" in msg and tls_id in msg


@FUZZ
@given(tag=identifiers.filter(lambda t: t != "net"))
def test_other_xml_passed_as_a_net_is_named(base, tag: str) -> None:
    _, rou_text, _, _ = base
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net = _write(folder, "other.net.xml", f"<{tag}><edge id='a'/></{tag}>")
        rou = _write(folder, "r.rou.xml", rou_text)
        msg = rejected(ScenarioError, scenarios.load, net, route_files=[rou])
    assert str(net) in msg


# Values that are neither seconds nor [[D:]H:]M:S; some contain ':' to reach the clock-time parser.
BAD_TIMES = st.one_of(
    st.text(alphabet="abcxyz:. ", min_size=1, max_size=8).filter(
        lambda s: s.strip() != "" and not s.replace(".", "").replace(":", "").isdigit()
    ),
    st.just("1:x"),
    st.just("::"),
    st.just("10:"),
)


@FUZZ
@given(option=st.sampled_from(["begin", "end", "step-length"]), value=BAD_TIMES)
def test_sumocfg_bad_time_is_named(base, option: str, value: str) -> None:
    net_text, rou_text, _, _ = base
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, "n.net.xml", net_text)
        _write(folder, "r.rou.xml", rou_text)
        cfg = _sumocfg(folder, "n.net.xml", "r.rou.xml", f"<time><{option} value={quoteattr(value)}/></time>")
        msg = rejected(ScenarioError, scenarios.load, cfg)
    assert str(cfg) in msg and option in msg


@FUZZ
@given(duration=st.text(alphabet="abcxyz-", min_size=1, max_size=6), which=st.integers(0, 1))
def test_net_with_non_numeric_phase_duration_is_named(base, duration: str, which: int) -> None:
    net_text, rou_text, _, tls = base
    root = ET.fromstring(net_text)
    logic = next(t for t in root.iter("tlLogic") if t.get("id") == tls[which % len(tls)])
    next(iter(logic.iter("phase"))).set("duration", duration)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net = _write(folder, "baddur.net.xml", ET.tostring(root, encoding="unicode"))
        rou = _write(folder, "r.rou.xml", rou_text)
        msg = rejected(ScenarioError, scenarios.load, net, route_files=[rou])
    assert str(net) in msg and "duration" in msg
