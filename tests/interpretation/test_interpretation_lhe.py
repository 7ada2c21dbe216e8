from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from dhstat import config
from dhstat.errors import InputError
from dhstat.interpretation import lhe
from dhstat.physics import kinematics
from dhstat.physics.beams import Beams
from dhstat.simulation.truth import TruthEvents


@pytest.fixture(scope="module")
def cfg() -> config.Config:
    return config.load()


@pytest.fixture(scope="module")
def beams(cfg: config.Config) -> Beams:
    return Beams.from_config(cfg)


def _lab_events(cfg: config.Config, n: int, rng: np.random.Generator) -> TruthEvents:
    """Two-body A'(-> mu mu) h' events built independently here, boosted to the lab."""
    roots = Beams.from_config(cfg).sqrt_s
    ma, mh, mmu = 5.0, 2.0, 0.1056584
    p_star = math.sqrt((roots**2 - (ma + mh) ** 2) * (roots**2 - (ma - mh) ** 2)) / (2 * roots)
    beta = Beams.from_config(cfg).cm_velocity()
    pdg = np.tile([13, -13, 35], n)
    p4 = np.empty((3 * n, 4))
    for i in range(n):
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        a = np.concatenate([[math.hypot(p_star, ma)], p_star * u])
        h = np.concatenate([[math.hypot(p_star, mh)], -p_star * u])
        v = rng.normal(size=3)
        v /= np.linalg.norm(v)
        q = math.sqrt(ma**2 / 4 - mmu**2)
        mu = np.array([[ma / 2, *(q * v)], [ma / 2, *(-q * v)]])
        mu = kinematics.boost(mu, a[1:] / a[0])
        p4[3 * i : 3 * i + 3] = kinematics.boost(np.vstack([mu, h]), beta)
    return TruthEvents(p=p4.reshape(n, 3, 4), pdg=pdg.reshape(n, 3).astype(np.int32))


def test_round_trip_lab_to_lhe_to_lab(
    cfg: config.Config, beams: Beams, tmp_path: Path, rng: np.random.Generator
) -> None:
    truth = _lab_events(cfg, 20, rng)
    path = tmp_path / "model.lhe"
    lhe.write(path, truth, beams=beams)
    events = lhe.read(path, beams=beams, invisible_pdg=[35])
    assert events.n_events == 20
    np.testing.assert_array_equal(events.offsets, np.arange(0, 61, 3))
    np.testing.assert_array_equal(events.pdg, truth.pdg.ravel())
    np.testing.assert_allclose(events.p4, truth.p.reshape(-1, 4), atol=1e-8)
    back = lhe.to_truth(events)
    np.testing.assert_array_equal(back.pdg, truth.pdg)
    np.testing.assert_allclose(back.p, truth.p, atol=1e-8)
    assert events.visible.tolist() == [True, True, False] * 20
    assert events.sqrt_s == pytest.approx(beams.sqrt_s, rel=1e-9)


def test_written_file_is_in_cm_frame_with_electron_along_z(
    cfg: config.Config, beams: Beams, tmp_path: Path, rng: np.random.Generator
) -> None:
    import pylhe

    path = tmp_path / "model.lhe"
    lhe.write(path, _lab_events(cfg, 3, rng), beams=beams)
    for event in pylhe.LHEFile.fromfile(str(path)).events:
        final = np.array([[p.e, p.px, p.py, p.pz] for p in event.particles if p.status == 1])
        np.testing.assert_allclose(final[:, 1:].sum(axis=0), 0.0, atol=1e-8)
        electron = next(p for p in event.particles if p.id == 11)
        assert electron.pz > 0
        assert electron.px == 0.0


def test_lab_result_independent_of_generator_frame(
    cfg: config.Config, beams: Beams, tmp_path: Path, rng: np.random.Generator
) -> None:
    """A file written in a rotated and boosted frame reads back to the same lab momenta."""
    truth = _lab_events(cfg, 5, rng)
    reference = tmp_path / "ref.lhe"
    lhe.write(reference, truth, beams=beams)
    text = reference.read_text()
    # Re-express the c.m.-frame file in a frame boosted along x (beams and final state alike).
    lines = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 13:
            mom = np.array([float(parts[9]), float(parts[6]), float(parts[7]), float(parts[8])])
            e, px, py, pz = kinematics.boost(mom, [0.3, 0.1, 0.0])
            parts[6:10] = [repr(float(px)), repr(float(py)), repr(float(pz)), repr(float(e))]
            lines.append(" ".join(parts))
        else:
            lines.append(line)
    moved = tmp_path / "moved.lhe.gz"
    with gzip.open(moved, "wt") as stream:
        stream.write("\n".join(lines) + "\n")
    events = lhe.read(moved, beams=beams, invisible_pdg=[35])
    np.testing.assert_allclose(events.p4, truth.p.reshape(-1, 4), atol=1e-7)


def test_bsm_ids_are_invisible_and_hadrons_rejected(beams: Beams, tmp_path: Path) -> None:
    p4 = np.array([[[5.29, 0, 0, 3.0], [5.29, 0, 0, -3.0]]])
    path = tmp_path / "x.lhe"
    lhe.write(path, TruthEvents(p4, np.array([[13, 9000005]], np.int32)), beams=beams, frame="cm")
    assert lhe.read(path, beams=beams).visible.tolist() == [True, False]
    lhe.write(path, TruthEvents(p4, np.array([[13, 211]], np.int32)), beams=beams, frame="cm")
    with pytest.raises(InputError, match=r"x\.lhe: event 0: particle id 211: expected an e, mu"):
        lhe.read(path, beams=beams)


HEADER = '<LesHouchesEvents version="3.0">\n<init>\n11 -11 5.29 5.29 0 0 0 0 3 1\n1.0 0.0 1.0 1\n</init>\n'
BEAMS = (
    "11 -1 0 0 0 0 0.0 0.0 5.2898 5.2898 0.000511 0 9\n"
    "-11 -1 0 0 0 0 0.0 0.0 -5.2898 5.2898 0.000511 0 9\n"
)
GOOD_EVENT = (
    "<event>\n4 1 1.0 10.58 0.0075 0.118\n" + BEAMS
    + "13 1 1 2 0 0 1.0 0.0 3.0 5.2898 0.1057 0 9\n"
    + "-13 1 1 2 0 0 -1.0 0.0 -3.0 5.2898 0.1057 0 9\n</event>\n"
)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (GOOD_EVENT + GOOD_EVENT.replace("-1.0 0.0 -3.0", "-1.0 abc -3.0"), "event 1", "well-formed"),
        (GOOD_EVENT + GOOD_EVENT.replace("0.1057 0 9\n</event>", "\n</event>"), "event 1", "well-formed"),
        (GOOD_EVENT.replace("<event>\n4 1", "<event>\n5 1"), "event 0", "5 particle lines"),
        (GOOD_EVENT + "<event>\n4 1 1.0 10.58 0.0075 0.118\n" + BEAMS + "</evnt>\n", "event 1",
         "well-formed LHE XML"),
        (GOOD_EVENT.replace("5.2898 5.2898 0.000511", "2.0 2.0 0.000511"), "event 0", "sqrt(s)"),
        (GOOD_EVENT.replace("1.0 0.0 3.0 5.2898", "nan 0.0 3.0 5.2898"), "event 0: particle 2",
         "finite"),
    ],
)  # fmt: skip
def test_malformed_events_name_file_and_event(
    beams: Beams, tmp_path: Path, body: str, field: str, fragment: str
) -> None:
    path = tmp_path / "bad.lhe"
    path.write_text(HEADER + body + "</LesHouchesEvents>\n")
    with pytest.raises(InputError) as info:
        lhe.read(path, beams=beams)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}: expected"), message
    assert fragment in message


def test_not_an_lhe_file(beams: Beams, tmp_path: Path) -> None:
    path = tmp_path / "notes.lhe"
    path.write_text("hello\n")
    with pytest.raises(InputError, match=r"notes\.lhe: \(header\)"):
        lhe.read(path, beams=beams)
    with pytest.raises(InputError, match="existing LHE file"):
        lhe.read(tmp_path / "missing.lhe", beams=beams)
    empty = tmp_path / "empty.lhe"
    empty.write_text(HEADER + "</LesHouchesEvents>\n")
    with pytest.raises(InputError, match="at least one <event>"):
        lhe.read(empty, beams=beams)
