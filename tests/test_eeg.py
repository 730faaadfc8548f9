"""EEG hyperscanning: PLV and envelope correlation, frontal alpha asymmetry, quality, import
(FIF, EDF) and the stored results, on synthetic signals with planted properties and on the real
eyes-closed EEG in ../shared/data/eeg/.

References used: PLV and AEC against a direct loop over epochs (numpy/scipy) and against HyPyP's
definitions (``hypyp.analyses.compute_freq_bands`` + ``compute_sync``: FIR band-pass and Hilbert
per epoch, ``PLV = |sum exp(i dphi)| / n``, envelope correlation = Pearson r of ``|z|``),
re-implemented here from their formulas; frontal alpha asymmetry against planted amplitudes
(twice the amplitude = four times the power: ln 4); the alpha peak of eyes-closed EEG (8-12 Hz).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from pathlib import Path

import mne
import numpy as np
import pytest
from scipy import signal

from studymgr.compute.eeg import (
    EEGConfig,
    alpha_peak,
    analytic_signal,
    assess_eeg_quality,
    coupling,
    frontal_alpha_asymmetry,
)
from studymgr.errors import InputError
from tests.conftest import snapshot

SFREQ = 250.0
START = dt.datetime(2025, 3, 3, 10, 0, 0, tzinfo=dt.UTC)
NAMES = ["F3", "F4", "C3", "C4", "O1", "O2"]


def bandlimited(rng, n, lo, hi, sfreq=SFREQ):
    freqs = np.fft.rfftfreq(n, 1 / sfreq)
    spec = np.fft.rfft(rng.standard_normal(n))
    spec[(freqs < lo) | (freqs > hi)] = 0
    x = np.fft.irfft(spec, n)
    return x / x.std()


def eeg_raw(*, names=NAMES, duration=60.0, seed=0, alpha_source=None, alpha_gain=None,
            noise=1.0, flat=(), saturate=(), line_hz=None, start=START):
    """EEG in volts: a shared alpha source (8.5-11.5 Hz, scaled per channel by
    ``alpha_gain``) plus independent theta (4-7 Hz) and broadband (1-40 Hz) noise per
    channel."""
    rng = np.random.default_rng(seed)
    n = int(duration * SFREQ)
    alpha = alpha_source if alpha_source is not None else bandlimited(rng, n, 8.5, 11.5)
    gains = alpha_gain or {}
    data = np.array([gains.get(ch, 1.0) * alpha + noise * (0.3 * bandlimited(rng, n, 1, 40)
                                                           + 0.5 * bandlimited(rng, n, 4, 7))
                     for ch in names]) * 10e-6
    t = np.arange(n) / SFREQ
    if line_hz:
        data += 5e-6 * np.sin(2 * np.pi * line_hz * t)
    for i in flat:
        data[i] = 0.0
    for i in saturate:
        top = np.percentile(data[i], 90)
        data[i] = np.minimum(data[i], top)
    raw = mne.io.RawArray(data, mne.create_info(list(names), SFREQ, "eeg"), verbose=False)
    raw.set_meas_date(start)
    return raw


def write_fif(path: Path, raw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.save(path, overwrite=True, verbose=False)
    return path


def write_edf(path: Path, raw) -> Path:
    """A minimal EDF (European Data Format, Kemp et al. 1992) written byte by byte: 1-s data
    records of 16-bit integers, physical unit uV."""
    data = raw.get_data() * 1e6
    sfreq = int(raw.info["sfreq"])
    n_ch, n_times = data.shape
    n_rec = n_times // sfreq
    phys = float(np.ceil(np.abs(data).max() + 1))

    def field(text, width):
        return str(text).ljust(width)[:width].encode("ascii")

    start = raw.info["meas_date"]
    header = (field("0", 8) + field("X X X X", 80) + field("Startdate X X X X", 80)
              + field(start.strftime("%d.%m.%y"), 8) + field(start.strftime("%H.%M.%S"), 8)
              + field(256 * (n_ch + 1), 8) + field("", 44) + field(n_rec, 8) + field(1, 8)
              + field(n_ch, 4))
    columns = [(16, raw.ch_names), (80, [""] * n_ch), (8, ["uV"] * n_ch),
               (8, [-phys] * n_ch), (8, [phys] * n_ch), (8, [-32768] * n_ch),
               (8, [32767] * n_ch), (80, [""] * n_ch), (8, [sfreq] * n_ch), (32, [""] * n_ch)]
    for width, values in columns:
        header += b"".join(field(v, width) for v in values)
    digital = np.round((data + phys) / (2 * phys) * 65535 - 32768).astype("<i2")
    records = b"".join(digital[:, r * sfreq:(r + 1) * sfreq].tobytes() for r in range(n_rec))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + records)
    assert struct.calcsize("<h") == 2
    return path


# -- coupling ------------------------------------------------------------------------------------
def test_plv_and_aec_of_identical_rotated_and_independent_signals():
    """Identical signals: PLV = AEC = 1; a copy with every phase shifted by 1 rad: PLV = 1
    (constant lag); independent noise: PLV near 0 (long epochs) and AEC near 0."""
    rng = np.random.default_rng(0)
    n = int(300 * SFREQ)
    x = rng.standard_normal((2, n))
    same = coupling(x, x, SFREQ, bands=[("alpha", 8, 12)], epoch_s=10)
    assert same.values[("plv", "alpha")] == pytest.approx(1.0, abs=1e-12)
    assert same.values[("aec", "alpha")] == pytest.approx(1.0, abs=1e-12)
    # a 9-11 Hz signal and the same signal 1 rad later in phase (x cos 1 - H(x) sin 1)
    inband = np.array([bandlimited(rng, n, 9, 11) for _ in range(2)])
    rotated = np.real(signal.hilbert(inband, axis=-1) * np.exp(1j))
    lagged = coupling(inband, rotated, SFREQ, bands=[("alpha", 8, 12)], epoch_s=10)
    assert lagged.values[("plv", "alpha")][1:-1] == pytest.approx(1.0, abs=1e-3)
    assert lagged.values[("aec", "alpha")][1:-1] == pytest.approx(1.0, abs=1e-3)
    y = rng.standard_normal((2, n))
    apart = coupling(x, y, SFREQ, bands=[("alpha", 8, 12)], epoch_s=150)
    # bias of PLV for independent phases: about sqrt(pi / (4 n_eff)), n_eff ~ 4 Hz x 150 s
    assert apart.values[("plv", "alpha")].max() < 0.08
    assert np.abs(apart.values[("aec", "alpha")]).max() < 0.1


def test_coupling_matches_a_direct_loop_and_hypyp_definitions():
    """Direct per-epoch loop on the same analytic signals: equal to 1e-12. HyPyP's pipeline
    (band-pass and Hilbert per epoch, then its formulas): equal within edge effects."""
    rng = np.random.default_rng(2)
    n = int(40 * SFREQ)
    shared = bandlimited(rng, n, 7, 13)
    a = np.array([shared + rng.standard_normal(n) for _ in range(3)])
    b = np.array([0.5 * shared + rng.standard_normal(n) for _ in range(3)])
    found = coupling(a, b, SFREQ, pairs="all", bands=[("alpha", 8, 12)], epoch_s=4)
    za, zb = analytic_signal(a, SFREQ, (8, 12)), analytic_signal(b, SFREQ, (8, 12))
    per = int(4 * SFREQ)
    for k, (i, j) in enumerate(found.pairs):
        for e in range(10):
            sl = slice(e * per, (e + 1) * per)
            dphi = np.angle(za[i, sl]) - np.angle(zb[j, sl])
            plv = np.abs(np.mean(np.exp(1j * dphi)))
            aec = np.corrcoef(np.abs(za[i, sl]), np.abs(zb[j, sl]))[0, 1]
            assert found.values[("plv", "alpha")][e, k] == pytest.approx(plv, abs=1e-12)
            assert found.values[("aec", "alpha")][e, k] == pytest.approx(aec, abs=1e-12)

    # HyPyP: data (2, n_epochs, n_channels, n_times) filtered and Hilbert-transformed per epoch;
    # plv = |sum_t u_i conj(u_j)| / n_samp, envelope_corr = Pearson r of |z|, averaged over epochs
    epochs = np.stack([a.reshape(3, 10, per).transpose(1, 0, 2),
                       b.reshape(3, 10, per).transpose(1, 0, 2)])
    analytic = np.array([signal.hilbert(mne.filter.filter_data(epochs[p], SFREQ, 8, 12,
                                                               verbose=False))
                         for p in range(2)])
    u = analytic / np.abs(analytic)
    hypyp_plv = np.abs(np.einsum("eit,ejt->eij", u[0], np.conj(u[1]))) / per
    env = np.abs(analytic) - np.abs(analytic).mean(axis=-1, keepdims=True)
    hypyp_aec = np.einsum("eit,ejt->eij", env[0], env[1]) / np.sqrt(
        np.einsum("ei,ej->eij", (env[0] ** 2).sum(-1), (env[1] ** 2).sum(-1)))
    ours_plv = found.values[("plv", "alpha")].mean(axis=0).reshape(3, 3)
    ours_aec = found.values[("aec", "alpha")].mean(axis=0).reshape(3, 3)
    assert ours_plv == pytest.approx(hypyp_plv.mean(axis=0), abs=0.05)
    assert ours_aec == pytest.approx(hypyp_aec.mean(axis=0), abs=0.06)
    # the planted shared alpha makes every pair coupled, far above independent noise
    assert ours_plv.min() > 0.3


def test_coupling_refuses_bad_input():
    x = np.zeros((2, 1000)) + np.arange(1000)
    with pytest.raises(InputError, match="same number of samples"):
        coupling(x, x[:, :900], SFREQ)
    with pytest.raises(InputError, match="shorter than one epoch"):
        coupling(x, x, SFREQ, epoch_s=10)
    with pytest.raises(InputError, match="sampling rate above"):
        coupling(x, x, 20.0, bands=[("alpha", 8, 12)])
    with pytest.raises(InputError):
        EEGConfig(bands=(("Alpha band", 8, 12),))
    with pytest.raises(InputError):
        EEGConfig(asymmetry=(("F3",),))


# -- frontal alpha asymmetry and the alpha peak --------------------------------------------------
def test_frontal_alpha_asymmetry_of_planted_amplitudes():
    """F4 alpha amplitude twice F3's: FAA = ln 4 (four times the power); swapped: -ln 4; equal:
    0. With independent alpha in each electrode the mean over windows is still near ln 4."""
    rng = np.random.default_rng(5)
    n = int(120 * SFREQ)
    alpha = bandlimited(rng, n, 8.5, 11.5)
    noise = 0.02 * bandlimited(rng, n, 1, 40)
    times, faa = frontal_alpha_asymmetry(alpha + noise, 2 * alpha + noise, SFREQ)
    assert len(times) == 119 and times[0] == pytest.approx(1.0)
    assert np.mean(faa) == pytest.approx(np.log(4), abs=0.02)
    assert np.all(np.abs(faa - np.log(4)) < 0.05)
    _, swapped = frontal_alpha_asymmetry(2 * alpha + noise, alpha + noise, SFREQ)
    assert np.mean(swapped) == pytest.approx(-np.log(4), abs=0.02)
    _, equal = frontal_alpha_asymmetry(alpha, alpha, SFREQ)
    assert equal == pytest.approx(0.0, abs=1e-12)
    other = bandlimited(rng, n, 8.5, 11.5)
    _, independent = frontal_alpha_asymmetry(other, 2 * alpha, SFREQ)
    assert np.mean(independent) == pytest.approx(np.log(4), abs=0.2)


def test_alpha_peak_of_synthetic_eeg():
    """A 10 Hz alpha rhythm over broadband noise peaks at 10 Hz (within the 0.25 Hz grid)."""
    raw = eeg_raw(duration=60)
    peak = alpha_peak(raw.get_data(), SFREQ)
    assert peak["frequency_hz"] == pytest.approx(10.0, abs=1.6)
    assert peak["prominence_db"] > 5


def test_quality_flags_flat_saturated_and_line_noise():
    """The planted flat channel (C3) and clipped channel (O2) are flagged and not usable;
    50 Hz line noise is found on every channel."""
    raw = eeg_raw(flat=(2,), saturate=(5,), line_hz=50.0)
    quality = assess_eeg_quality(raw)
    flags = {c["name"]: c for c in quality["channels"]}
    assert flags["C3"]["flat"] and not flags["C3"]["usable"]
    assert flags["O2"]["saturated"] and not flags["O2"]["usable"]
    assert flags["O2"]["saturated_share"] == pytest.approx(0.1, abs=0.01)
    assert quality["n_usable"] == 4 and quality["usable_share"] == pytest.approx(4 / 6)
    assert quality["line_noise"]["frequency_hz"] == 50.0
    assert quality["line_noise"]["excess_db"] > 20
    assert quality["alpha"]["frequency_hz"] == pytest.approx(10.0, abs=1.6)
    clean = assess_eeg_quality(eeg_raw())
    assert clean["n_usable"] == 6 and clean["line_noise"]["excess_db"] < 10
    json.dumps(quality)  # stored as JSON


# -- through the study ---------------------------------------------------------------------------
def fill_eeg_study(study, folder: Path):
    """D01 session 1 with consensus MOI (20 s) and MONI (40 s); EEG of both people (FIF and
    EDF under ``folder/in``) sharing an alpha source; the therapist's F4 alpha twice F3's."""
    study.add_dyad("D01", therapist="T01", patient="P01")
    study.add_session("D01", 1)
    rng = np.random.default_rng(9)
    shared = bandlimited(rng, int(60 * SFREQ), 8.5, 11.5)
    t = write_fif(folder / "in" / "t_raw.fif",
                  eeg_raw(seed=1, alpha_source=shared, alpha_gain={"F4": 2.0}))
    p = write_edf(folder / "in" / "p.edf", eeg_raw(seed=2, alpha_source=shared))
    study.import_scan("D01", 1, "therapist", t, modality="eeg")
    study.import_scan("D01", 1, "patient", p, modality="eeg")
    cons = folder / "in" / "cons.csv"
    cons.write_text("onset,duration,label\n20,0,MOI\n40,0,MONI\n")
    study.import_events("D01", 1, cons, consensus=True)
    return study


@pytest.fixture
def eeg_study(study, tmp_path):
    """See :func:`fill_eeg_study`."""
    return fill_eeg_study(study, tmp_path)


def test_import_eeg_formats(eeg_study, tmp_path):
    """FIF and EDF recordings are stored under eeg/ with their EEG quality; the EDF reads back
    with the values written (to the 16-bit resolution); an EDF without --modality eeg, or an
    fNIRS file with it, is refused."""
    scans = eeg_study.scans().set_index("role")
    assert set(scans["modality"]) == {"eeg"}
    assert scans.loc["therapist", "format"] == "fif" and scans.loc["patient", "format"] == "edf"
    assert scans.loc["patient", "path"].startswith("sub-P01/ses-1/eeg/")
    assert scans.loc["patient", "path"].endswith("_eeg.edf")
    info = eeg_study.scan_info("D01", 1, "patient", "eeg")
    assert info["quality"]["modality"] == "eeg" and info["quality"]["n_usable"] == 6
    assert eeg_study.scan_pairs()["status"].tolist() == ["ok"]
    back = eeg_study.load_scan("D01", 1, "patient", "eeg")
    original = eeg_raw(seed=2, alpha_source=bandlimited(np.random.default_rng(9),
                                                        int(60 * SFREQ), 8.5, 11.5))
    step = 2 * np.abs(original.get_data()).max() / 65535
    assert np.abs(back.get_data() - original.get_data()).max() < 2 * step + 1e-6 * 1e-3
    with pytest.raises(InputError, match=r"unsupported file type '.edf' for fNIRS.*--modality"):
        eeg_study.import_scan("D01", 1, "patient", tmp_path / "in" / "p.edf")
    from tests.test_scans import write_snirf

    with pytest.raises(InputError, match="unsupported file type '.snirf' for EEG"):
        eeg_study.import_scan("D01", 1, "patient", write_snirf(tmp_path / "x.snirf"),
                              modality="eeg")
    fnirs_fif = write_fif(tmp_path / "n_raw.fif", mne.io.RawArray(
        np.ones((2, 100)), mne.create_info(["S1_D1 760", "S1_D1 850"], 10.0,
                                           "fnirs_cw_amplitude"), verbose=False))
    with pytest.raises(InputError, match="no EEG channels"):
        eeg_study.import_scan("D01", 1, "patient", fnirs_fif, modality="eeg", replace=True,
                              reason="x")


def test_eeg_compute_stores_coupling_and_asymmetry(eeg_study):
    """PLV in the shared alpha band is high and above theta; the therapist's planted asymmetry
    comes back as ~ln 4, the patient's as ~0; conditions around the consensus moments are
    stored; the models' analysis table picks PLV for chromophore eeg; a rerun is up to date."""
    summary = eeg_study.compute_eeg()
    row = summary.iloc[0]
    assert row["status"] == "computed" and row["measure"] == "plv_alpha"
    assert row["faa_therapist"] == pytest.approx(np.log(4), abs=0.15)
    assert row["faa_patient"] == pytest.approx(0.0, abs=0.15)
    results = eeg_study.eeg_results()
    whole = results[results["condition"] == "session"].set_index("measure")["value"]
    assert set(whole.index) == {"plv_theta", "plv_alpha", "aec_theta", "aec_alpha"}
    assert whole["plv_alpha"] > 0.6 and whole["plv_alpha"] > whole["plv_theta"] + 0.2
    assert whole["plv_alpha"] == pytest.approx(row["value"])
    conditions = set(results["condition"])
    assert conditions == {"session", "MOI", "MONI", "rest"}
    counts = results[results["measure"] == "plv_alpha"].set_index("condition")["n"]
    # 30 epochs of 2 s centred at 1, 3, ..., 59 s; one MOI (20 +- 15 s) and one MONI
    # (40 +- 15 s) moment; the rest is the epochs centred outside 5-55 s: 1, 3, 57, 59 s
    assert counts.to_dict() == {"session": 30, "MOI": 1, "MONI": 1, "rest": 4}
    channel = eeg_study.eeg_results(level="channel", measure="aec_alpha")
    assert set(channel["therapist_unit"]) == set(NAMES)
    asym = eeg_study.eeg_asymmetry().set_index(["role", "condition"])
    assert asym.loc[("therapist", "session"), "value"] == pytest.approx(np.log(4), abs=0.15)
    assert asym.loc[("therapist", "session"), "n_windows"] == 59
    # stored like fNIRS synchrony: chromophore eeg, selected by measure
    stored = eeg_study.synchrony(chromophore="eeg", measure="plv_alpha")
    assert stored["value"].iloc[0] == pytest.approx(row["value"])
    assert eeg_study.synchrony().empty  # the default measure is the fNIRS coherence
    from studymgr.runs.models import analysis_table

    table = analysis_table(eeg_study, {"chromophore": "eeg"})
    assert table.frame["synchrony"].iloc[0] == pytest.approx(row["value"])
    aec = analysis_table(eeg_study, {"chromophore": "eeg", "measure": "aec_theta"})
    assert aec.frame["synchrony"].iloc[0] == pytest.approx(whole["aec_theta"])
    assert set(eeg_study.compute_eeg()["status"]) == {"up to date"}


def test_cli_eeg_commands(eeg_study, cli):
    eeg_study.close()
    out = cli("eeg", "compute", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)[0]["status"] == "computed"
    listing = cli("eeg", "list", "--measure", "plv_alpha", "--csv").stdout.splitlines()
    assert listing[0].startswith("dyad,session,measure,level")
    assert len(listing) == 1 + 4  # session, MOI, MONI, rest
    asym = cli("eeg", "asymmetry")
    assert asym.exit_code == 0 and "therapist" in asym.output
    imported = cli("scans", "list", "--json")
    assert {r["modality"] for r in json.loads(imported.stdout)} == {"eeg"}


def test_missing_asymmetry_channels_store_nothing(cli, tmp_path, monkeypatch):
    """A recording without F3/F4: 'eeg compute' stops with one line, exit 2, nothing stored."""
    monkeypatch.chdir(tmp_path)
    for args in (["init"], ["dyad", "add", "D01", "--therapist", "T01", "--patient", "P01"],
                 ["session", "add", "D01", "1"]):
        assert cli(*args).exit_code == 0
    names = ["C3", "C4", "O1", "O2"]
    write_fif(tmp_path / "in" / "t_raw.fif", eeg_raw(names=names, seed=1, duration=20))
    write_fif(tmp_path / "in" / "p_raw.fif", eeg_raw(names=names, seed=2, duration=20))
    for role, name in (("therapist", "t_raw.fif"), ("patient", "p_raw.fif")):
        result = cli("scans", "import", "D01", "1", "--role", role, f"in/{name}",
                     "--modality", "eeg")
        assert result.exit_code == 0, result.output
        assert "alpha peak" in result.output and "line noise" in result.output
    before = snapshot(tmp_path)
    result = cli("eeg", "compute")
    assert result.exit_code == 2 and result.stdout == ""
    err = result.stderr.strip()
    assert "\n" not in err and "lacks F3, F4" in err and "nothing was computed" in err, err
    assert snapshot(tmp_path) == before
    ok = cli("eeg", "compute", "--asymmetry", "C3:C4", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)[0]["status"] == "computed"


# -- real EEG ------------------------------------------------------------------------------------
def test_real_eyes_closed_eeg(shared_data, tmp_path):
    """The real eyes-closed EEG: alpha peak between 8 and 12 Hz, finite asymmetry; imported as
    a technical pair (EDF; recorded 77 s apart, so the pair check reports no overlap and the
    recordings are paired from their first samples), coupling is computed and finite (no
    coupling is claimed)."""
    import studymgr

    folder = shared_data / "eeg" / "hypyp-eyes-closed"
    raw = mne.io.read_raw_edf(folder / "eyes-closed-1.edf", preload=True, verbose="error")
    assert 8.0 <= alpha_peak(raw.get_data(), raw.info["sfreq"])["frequency_hz"] <= 12.0
    _, faa = frontal_alpha_asymmetry(raw.get_data(picks="F3")[0], raw.get_data(picks="F4")[0],
                                     raw.info["sfreq"])
    assert np.isfinite(faa).all() and len(faa) == 49
    study = studymgr.create_study(tmp_path / "study.db", user="tester")
    study.add_dyad("D01", therapist="T01", patient="P01")
    study.add_session("D01", 1)
    for role, name in (("therapist", "eyes-closed-1.edf"), ("patient", "eyes-closed-2.edf")):
        result = study.import_scan("D01", 1, role, folder / name, modality="eeg")
        assert 8.0 <= result["alpha_hz"] <= 12.0 and result["n_channels"] == 31
    assert study.scan_pairs()["status"].tolist() == ["error"]
    assert study.compute_eeg()["status"].tolist() == ["failed"]  # no overlap in time
    summary = study.compute_eeg(EEGConfig(alignment="start"))
    assert summary["status"].tolist() == ["computed"]
    values = study.eeg_results(level="channel")
    assert len(values) == 31 * 4 and np.isfinite(values["value"]).all()
    assert values["value"].between(-1, 1).all()
    asym = study.eeg_asymmetry()
    assert np.isfinite(asym["value"]).all() and set(asym["role"]) == {"therapist", "patient"}
    study.close()


def test_pure_modules_import_no_store_and_no_cli():
    """The EEG measures, rater agreement and event-locked statistics are pure (they import
    nothing of the store, files, runs, presentation or CLI), and the event-locked and EEG runs
    go through Study methods only: none imports the store or the CLI, not even inside a function
    (read from their source)."""
    import ast

    import studymgr

    root = Path(studymgr.__file__).parent
    above_compute = ("studymgr.store", "studymgr.io", "studymgr.runs", "studymgr.present",
                     "studymgr.cli")
    for name, forbidden in (("compute/eeg.py", above_compute),
                            ("compute/events/agreement.py", above_compute),
                            ("compute/events/eventlocked.py", above_compute),
                            ("runs/eventlocked.py", ("studymgr.store", "studymgr.cli")),
                            ("runs/eeg.py", ("studymgr.store", "studymgr.cli"))):
        tree = ast.parse((root / name).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                     for a in n.names}
        assert not any(m.startswith(forbidden) for m in imported), name


# -- models on EEG sessions -----------------------------------------------------------------------
def _faa_study(study, tmp_path, *, n_dyads=6, sessions=(1, 2, 3, 4), slope=0.3, effect=-4.0):
    """Six dyads x four EEG sessions of 20 s. The patient's F4 alpha amplitude is
    exp(faa / 2) x F3's, so their planted asymmetry is faa = dyad offset + slope x session
    + noise (SD 0.3, which lets the within-dyad link be told apart from growth); the GAD-7
    total (symptoms, before the session) is 10 + effect x (faa - the dyad's mean faa),
    rounded, so the within-dyad link is planted too."""
    from studymgr.runs import entry

    rng = np.random.default_rng(31)
    planted = {}
    for d in range(1, n_dyads + 1):
        dyad = f"D{d:02d}"
        study.add_dyad(dyad, therapist=f"T{d:02d}", patient=f"P{d:02d}")
        offset = rng.normal(0, 0.3)
        faas = {n: offset + slope * n + rng.normal(0, 0.3) for n in sessions}
        for n in sessions:
            study.add_session(dyad, n)
            seed = 100 * d + n
            shared = bandlimited(np.random.default_rng(seed), int(20 * SFREQ), 8.5, 11.5)
            for role, gain in (("therapist", 1.0), ("patient", float(np.exp(faas[n] / 2)))):
                raw = eeg_raw(seed=seed + (0 if role == "therapist" else 50), duration=20.0,
                              alpha_source=shared, alpha_gain={"F4": gain})
                study.import_scan(dyad, n, role, write_fif(
                    tmp_path / "in" / f"{dyad}_{n}_{role}_raw.fif", raw), modality="eeg")
        mean = np.mean(list(faas.values()))
        for n in sessions:
            total = int(np.clip(round(10 + effect * (faas[n] - mean)), 0, 21))
            items = [3] * (total // 3) + [total % 3] + [0] * 7
            entry.enter_response(study, dyad, n, "gad7", role="patient", timing="pre",
                                 items=items[:7])
            planted[(dyad, n)] = faas[n]
    return planted


def test_models_of_frontal_alpha_asymmetry_recover_planted_growth_and_link(study, tmp_path, cli):
    """Planted: the patient's asymmetry grows by 0.3 per session and symptoms fall by 4 points
    per unit of within-dyad asymmetry. 'models fit --measure faa' recovers both (the estimates
    compared with the planted values, the table's asymmetry with the stored person measures);
    a stored pair that does not exist, or an fNIRS chromophore with faa, is refused in one line
    with the database unchanged byte for byte."""
    planted = _faa_study(study, tmp_path)
    summary = study.compute_eeg(dyad=None)
    assert set(summary["status"]) == {"computed"}
    from studymgr.runs.models import analysis_table

    table = analysis_table(study, {"measure": "faa"})
    assert table.config.chromophore == "eeg" and table.config.unit == "F3:F4"
    assert "asymmetry" in table.frame and "synchrony" not in table.frame
    stored = study.eeg_asymmetry()
    stored = stored[(stored["role"] == "patient") & (stored["condition"] == "session")]
    merged = table.frame.merge(stored, on=["dyad", "session"])
    assert np.array_equal(merged["asymmetry"].to_numpy(), merged["value"].to_numpy())
    measured = merged.set_index(["dyad", "session"])["value"]
    assert np.corrcoef([planted[k] for k in measured.index], measured)[0, 1] > 0.95
    study.close()

    out = cli("models", "fit", "--measure", "faa", "--json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    growth = next(r for r in rows if r["model"] == "growth" and r["term"] == "session")
    assert growth["estimate"] == pytest.approx(0.3, abs=0.12) and growth["p"] < 0.01
    link = next(r for r in rows if r["model"] == "outcome:symptoms"
                and r["term"] == "asymmetry_within")
    assert link["estimate"] == pytest.approx(-4.0, abs=0.8) and link["p"] < 0.001
    assert not any(r["model"] == "growth_true_vs_pseudo" for r in rows)
    shown = cli("models", "show", "--model", "growth").output
    assert "asymmetry ~ session" in shown
    # the report follows the stored run's variable: asymmetry, no section fails, and the refit
    # of the stored models from the analysis table agrees (Model diagnostics)
    report = cli("report", "--out", str(tmp_path / "faa.html"), "--timelines", "0")
    assert report.exit_code == 0, report.output
    html = (tmp_path / "faa.html").read_text()
    assert "could not be drawn" not in html
    assert "frontal alpha asymmetry (F3:F4) in place of synchrony" in html
    assert "asymmetry ~ session + (1 + session | dyad)" in html
    assert "Frontal alpha asymmetry changed over sessions" in html
    assert "Check: the refit from the same analysis table as the stored run (same SHA-256) " \
        "reproduces" in html

    before = snapshot(tmp_path)
    for args, message in ((["--measure", "faa", "--unit", "F7:F8"],
                           "no frontal alpha asymmetry F7:F8 is stored: stored pairs are F3:F4"),
                          (["--measure", "faa", "--chromophore", "hbo"],
                           "measure faa is an EEG measure: use chromophore eeg"),
                          (["--measure", "faa", "--unit", "F3"], "LEFT:RIGHT")):
        bad = cli("models", "fit", *args)
        assert bad.exit_code == 2 and message in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before
    plv = cli("models", "fit", "--chromophore", "eeg", "--measure", "plv_alpha", "--json")
    assert plv.exit_code == 0, plv.output
    assert any(r["model"] == "growth" for r in json.loads(plv.stdout))
    report = cli("report", "--out", str(tmp_path / "plv.html"), "--timelines", "0")
    assert report.exit_code == 0, report.output
    html = (tmp_path / "plv.html").read_text()
    assert "could not be drawn" not in html
    assert "EEG phase-locking value, alpha band" in html


def test_check_flags_eeg_results_whose_events_changed(eeg_study, tmp_path):
    """'check' compares each EEG run's stored input hashes with the recordings and the events
    (the run's source and labels) stored now: fresh results pass; another consensus moment
    makes them out of date, with the command that recomputes the session."""
    from studymgr.runs.check import check_study

    eeg_study.compute_eeg()
    rows = check_study(eeg_study)
    rows = rows[rows["check"] == "synchrony"]
    assert list(rows["status"]) == ["ok"] and "1 eeg" in rows["detail"].iloc[0]
    more = tmp_path / "in" / "more.csv"
    more.write_text("onset,duration,label\n50,0,MOI\n")
    eeg_study.import_events("D01", 1, more, consensus=True)
    rows = check_study(eeg_study)
    problem = rows[rows["status"] == "problem"].iloc[0]
    assert "the events changed since" in problem["detail"]
    assert problem["fix"] == "studymgr eeg compute --dyad D01 --session 1"
    eeg_study.compute_eeg()
    rows = check_study(eeg_study)
    assert set(rows.loc[rows["check"] == "synchrony", "status"]) == {"ok"}


def test_bids_export_writes_eeg_as_brainvision_without_the_name(eeg_study, tmp_path):
    """EEG recordings go to eeg/ as BrainVision; MNE-BIDS reads them back with the stored
    samples (float32 resolution) and the consensus events; the name in the EDF patient field
    appears in no exported file."""
    import mne_bids

    from studymgr.present.export import export_bids

    # a second session whose patient EDF names the patient in its header
    eeg_study.add_session("D01", 2)
    named = write_edf(tmp_path / "in" / "named.edf", eeg_raw(seed=5, duration=20.0))
    data = bytearray(named.read_bytes())
    data[8:88] = b"MCH-0234567 F 02-MAY-1951 Jane_Doe".ljust(80)
    named.write_bytes(bytes(data))
    eeg_study.import_scan("D01", 2, "patient", named, modality="eeg")
    assert eeg_study.load_scan("D01", 2, "patient", "eeg").info["subject_info"]
    written = export_bids(eeg_study, tmp_path / "bids")
    recs = written[written["kind"] == "recording"]
    assert len(recs) == 3 and all(p.endswith("_eeg.vhdr") and "/eeg/" in p for p in recs["path"])
    for row in recs.itertuples(index=False):
        path = tmp_path / "bids" / row.path
        back = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(path), verbose="error")
        stored = eeg_study.load_scan(row.dyad, int(row.session), row.role, "eeg").get_data()
        assert back.get_data().shape == stored.shape
        assert np.allclose(back.get_data(), stored, rtol=1e-6, atol=1e-12)
        if int(row.session) == 1:
            assert list(back.annotations.description) == ["MOI", "MONI"]
    for file in (tmp_path / "bids").rglob("*"):
        if file.is_file():
            assert b"Jane" not in file.read_bytes(), file
    assert "written as BrainVision" in written.attrs["notes"][0]


def test_status_grid_shows_eeg_recordings_and_moments(eeg_study, cli):
    """The status frame and grid mark EEG recordings (eTP) and consensus moments (m2: the two
    imported in the fixture); a session with rater marks only shows rN."""
    eeg_study.add_session("D01", 2)
    marks = Path(eeg_study.path).parent / "marks.csv"
    marks.write_text("onset,duration,label\n12,0,MOI\n")
    for rater in ("R1", "R2"):
        eeg_study.import_events("D01", 2, marks, rater=rater)
    frame = eeg_study.status().set_index("session")
    assert frame.loc[1, "mark_eeg"] == "eTP" and frame.loc[2, "mark_eeg"] == ""
    assert bool(frame.loc[1, "eeg_patient"]) and not bool(frame.loc[2, "eeg_patient"])
    assert frame.loc[1, "mark_moments"] == "m2" and frame.loc[2, "mark_moments"] == "r2"
    assert int(frame.loc[2, "n_raters"]) == 2 and int(frame.loc[2, "n_consensus"]) == 0
    eeg_study.close()
    out = cli("status")
    assert out.exit_code == 0 and "eTP" in out.output and "m2" in out.output
    assert "consensus moments" in out.output  # the legend
