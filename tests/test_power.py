"""Power and false-positive rate by simulation (studymgr.compute.simulate.power,
``studymgr simulate power``).

Independent references:

- the nominal level: with the effect set to 0 the rejection rate must not exceed alpha beyond
  Monte Carlo error (exact binomial interval), and planting a larger effect must raise it;
- hand computations by ordinary least squares (numpy): in these balanced designs (every dyad
  has the same sessions) the mixed model's fixed slope of ``session`` equals the pooled OLS
  slope (generalised least squares with a covariance that is the same in every dyad and a
  design that is the same in every dyad reduces to OLS), and the within-dyad coefficient of the
  Mundlak-style outcome model equals the fixed-effects (dyad dummies) OLS coefficient;
- the simulator itself: each repetition is regenerated from its recorded seed.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from studymgr.compute.simulate.power import PowerDesign, PowerResult, simulate_power
from studymgr.compute.simulate.study import Effects, simulate_synchrony_table
from studymgr.errors import InputError
from studymgr.present.figures import plot_power
from studymgr.runs.executors import LocalExecutor

DESIGN = PowerDesign(n_dyads=8, n_sessions=6, scanned=(1, 3, 5), slope=-4.0)
EFFECTS = [0.02, 0.06]
REPS = 24


@pytest.fixture(scope="module")
def result() -> PowerResult:
    return simulate_power(DESIGN, growth=EFFECTS, reps=REPS, seed=3, jobs=2)


def _row(summary: pd.DataFrame, test: str, growth: float, slope: float) -> pd.Series:
    hit = summary[(summary["test"] == test) & np.isclose(summary["growth"], growth)
                  & np.isclose(summary["slope"], slope)]
    assert len(hit) == 1, (test, growth, slope, summary)
    return hit.iloc[0]


def test_conditions_and_summary(result):
    """Each planted growth with both tests; growth 0 (growth test) and slope 0 (outcome test)
    for the false-positive rates; every repetition fitted."""
    s = result.summary
    assert len(s) == 1 + 2 * len(EFFECTS) + len(EFFECTS)
    assert set(s.loc[s["test"] == "growth", "term"]) == {"session"}
    assert set(s.loc[s["test"] == "outcome", "term"]) == {"synchrony_within"}
    fpr = s[s["kind"] == "false_positive_rate"]
    assert set(zip(fpr["test"], fpr["growth"], fpr["slope"], strict=True)) == {
        ("growth", 0.0, -4.0), ("outcome", 0.02, 0.0), ("outcome", 0.06, 0.0)}
    assert (s["reps"] == REPS).all() and (s["failed"] == 0).all()
    assert ((s["ci_low"] <= s["rate"]) & (s["rate"] <= s["ci_high"])).all()
    assert len(result.reps) == REPS * int(s.shape[0])
    assert result.config["reps"] == REPS and result.config["design"]["scanned"] == [1, 3, 5]


def test_false_positive_rate_is_sane(result):
    """With the effect at 0 the rate is not above alpha beyond Monte Carlo error."""
    fpr = result.summary[result.summary["kind"] == "false_positive_rate"]
    assert (fpr["rate"] <= 0.2).all(), fpr
    assert (fpr["ci_low"] <= 0.05).all(), fpr
    # and the estimates are centred on the planted zero
    for _, row in fpr.iterrows():
        assert abs(row["mean_estimate"]) < 3 * row["sd_estimate"] / np.sqrt(REPS)


def test_power_rises_with_the_effect(result):
    s = result.summary
    fpr = _row(s, "growth", 0.0, -4.0)["rate"]
    low, high = (_row(s, "growth", g, -4.0)["rate"] for g in EFFECTS)
    assert fpr < low < high and high > 0.8, (fpr, low, high)
    for g in EFFECTS:
        power = _row(s, "outcome", g, -4.0)["rate"]
        assert power > _row(s, "outcome", g, 0.0)["rate"] + 0.3
    # estimates track the planted growth (synchrony is coupling plus noise: same units)
    for g in EFFECTS:
        assert _row(s, "growth", g, -4.0)["mean_estimate"] == pytest.approx(g, abs=0.01)


def _ols_slope(table: pd.DataFrame) -> float:
    data = table[table["scanned"]]
    return float(np.polyfit(data["session"], data["synchrony"], 1)[0])


def _fixed_effects_within(table: pd.DataFrame, outcome: str) -> float:
    data = table.dropna(subset=["synchrony"])
    dummies = pd.get_dummies(data["dyad"], dtype=float).to_numpy()
    X = np.column_stack([data["session"], data["synchrony"], dummies])
    beta = np.linalg.lstsq(X, data[outcome].to_numpy(), rcond=None)[0]
    return float(beta[1])


def test_estimates_equal_hand_computed_least_squares(result):
    """Regenerate repetitions from their recorded seeds: the growth estimate is the pooled OLS
    slope and the outcome test's within estimate the fixed-effects OLS coefficient."""
    reps = result.reps
    for g, b in ((0.06, -4.0), (0.0, -4.0), (0.02, 0.0)):
        part = reps[np.isclose(reps["growth"], g) & np.isclose(reps["slope"], b)]
        for rep in range(3):
            rows = part[part["rep"] == rep].set_index("test")
            seed = int(rows["seed"].iloc[0])
            table = simulate_synchrony_table(**DESIGN.simulation_kwargs(growth=g, slope=b),
                                             seed=seed)
            if "growth" in rows.index:
                assert rows.loc["growth", "estimate"] == pytest.approx(_ols_slope(table),
                                                                       abs=1e-7)
            if "outcome" in rows.index:
                assert rows.loc["outcome", "estimate"] == pytest.approx(
                    _fixed_effects_within(table, "symptoms"), abs=1e-6)


def test_common_random_numbers_across_conditions(result):
    """Repetition r has the same seed under every condition."""
    seeds = result.reps.pivot_table(index="rep", columns=["test", "growth", "slope"],
                                    values="seed", aggfunc="first")
    assert (seeds.nunique(axis=1) == 1).all()
    assert seeds.iloc[:, 0].nunique() == REPS


class _RecordingExecutor:
    """A stand-in for a cluster executor: an ordered map that counts its tasks."""

    workers = 3

    def __init__(self) -> None:
        self.tasks = 0

    def map(self, func, items):
        self.tasks += len(items)
        return map(func, items)


def test_same_results_whatever_the_executor_and_chunking():
    design = PowerDesign(n_dyads=4, n_sessions=3)
    base = simulate_power(design, growth=0.05, reps=4, seed=9, chunk_size=4)
    ticks = []
    custom = _RecordingExecutor()
    other = simulate_power(design, growth=0.05, reps=4, seed=9, executor=custom, chunk_size=1,
                           progress=lambda done, total: ticks.append((done, total)))
    pooled = simulate_power(design, growth=0.05, reps=4, seed=9,
                            executor=LocalExecutor(2), chunk_size=2)
    assert custom.tasks == 3 * 4  # 3 conditions x 4 chunks of one repetition
    assert ticks[-1] == (12, 12) and len(ticks) == 12
    for frame in (other.reps, pooled.reps):
        pd.testing.assert_frame_equal(frame, base.reps)
    different = simulate_power(design, growth=0.05, reps=4, seed=10)
    assert not np.allclose(different.reps["estimate"], base.reps["estimate"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reps": 0}, "reps"),
    ({"reps": 2.5}, "reps"),
    ({"seed": -1}, "seed"),
    ({"alpha": 1.5}, "alpha"),
    ({"jobs": 0}, "jobs"),
    ({"growth": []}, "at least one growth"),
    ({"growth": [float("nan")]}, "growth"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_bad_run_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        simulate_power(PowerDesign(n_dyads=3, n_sessions=2), **kwargs)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n_dyads": 2}, "at least 3"),
    ({"scanned": (1,)}, "at least 2 sessions"),
    ({"outcome": "mood"}, "unknown outcome"),
    ({"scanned": ("a",)}, "session numbers"),
])
def test_bad_designs(kwargs, message):
    with pytest.raises(InputError, match=message):
        PowerDesign(**kwargs)


def test_bad_simulation_parameters_fail_before_any_work():
    with pytest.raises(InputError, match="scanned sessions"):
        simulate_power(PowerDesign(n_sessions=3, scanned=(1, 4)), reps=2)
    with pytest.raises(InputError, match="synchrony_noise_sd"):
        simulate_power(PowerDesign(synchrony_noise_sd=-1.0), reps=2)


def test_design_holds_one_effects_and_keeps_the_old_keywords():
    """The background of the planted model is an Effects; the flat keywords of earlier
    versions replace its fields; the JSON form is flat as before."""
    old_style = PowerDesign(n_dyads=5, baseline_coupling=0.3, coupling_sd_session=0.1,
                            outcome_sd_dyad=0.5)
    grouped = PowerDesign(n_dyads=5, effects=Effects(baseline_coupling=0.3,
                                                     coupling_sd_session=0.1,
                                                     outcome_sd_dyad=0.5))
    assert old_style == grouped
    assert old_style.effects.baseline_coupling == 0.3
    assert old_style.to_dict() == {
        "n_dyads": 5, "n_sessions": 6, "scanned": None, "growth": 0.02, "outcome": "symptoms",
        "slope": -2.0, "baseline_coupling": 0.3, "coupling_sd_dyad": 0.05,
        "coupling_sd_growth": 0.02, "coupling_sd_session": 0.1, "outcome_sd_dyad": 0.5,
        "outcome_sd_session": 0.4, "synchrony_noise_sd": 0.05}
    with pytest.raises(TypeError, match="symptom_slope"):
        PowerDesign(symptom_slope=-1.0)  # planted per condition: use slope= and outcome=
    with pytest.raises(InputError, match="effects must be an Effects"):
        PowerDesign(effects={"growth": 0.1})


def test_condition_effects_plant_growth_and_one_outcome_slope():
    design = PowerDesign(outcome="wellbeing", effects=Effects(symptom_slope=-5.0,
                                                              alliance_effect=1.0))
    effects = design.effects_for(growth=0.03, slope=2.0)
    assert effects.growth == 0.03 and effects.wellbeing_slope == 2.0
    assert effects.symptom_slope == effects.session_quality_slope == 0.0
    assert effects.alliance_effect == 0.0
    flat = simulate_synchrony_table(**design.simulation_kwargs(growth=0.03, slope=2.0), seed=4)
    pd.testing.assert_frame_equal(design.simulate(growth=0.03, slope=2.0, seed=4), flat)


def test_plot(result, tmp_path):
    from matplotlib.image import imread

    out = tmp_path / "power.png"
    fig = plot_power(result, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(out).shape[0] > 200
    assert len(fig.axes) == 2
    lines = fig.axes[0].get_lines()
    assert lines, "the growth panel shows the rates"
    with pytest.raises(InputError, match="does not exist"):
        plot_power(result, tmp_path / "missing" / "p.png")


def test_json_round_trip(result):
    payload = json.loads(json.dumps(result.to_dict()))
    assert len(payload["summary"]) == len(result.summary)
    assert payload["config"]["alpha"] == 0.05


# -- command line ----------------------------------------------------------------------------------
def test_cli_power_json_and_plot(cli, tmp_path):
    plot = tmp_path / "p.png"
    res = cli("simulate", "power", "--dyads", "4", "--sessions", "3", "--growth", "0.05,0.1",
              "--reps", "3", "--seed", "2", "--plot", str(plot), "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert {r["kind"] for r in payload["summary"]} == {"power", "false_positive_rate"}
    assert payload["config"]["growth"] == [0.05, 0.1] and payload["config"]["seed"] == 2
    assert plot.read_bytes()[:4] == b"\x89PNG"
    table = cli("simulate", "power", "--dyads", "4", "--sessions", "3", "--reps", "2")
    assert table.exit_code == 0 and "2 repetitions per condition" in table.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--growth", "abc"], "comma-separated list"),
    (["--scanned", "1,x"], "comma-separated list"),
    (["--dyads", "2"], "at least 3"),
    (["--reps", "0"], "reps"),
    (["--plot", "/nonexistent/folder/p.png"], "does not exist"),
    (["--executor", "local", "--scheduler", "tcp://x:1"], "only used with --executor dask"),
])
def test_cli_power_bad_input_is_one_line(cli, args, message):
    res = cli("simulate", "power", "--reps", "2", *args)
    assert res.exit_code == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0]
