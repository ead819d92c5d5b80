"""CLI: ``track``, ``interpolate``, ``propagate``, ``suggest``: each writes ONE step of the edit
history (the window's verbs, ``pose_studio.app``), so ``pose-studio undo`` takes it back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_studio.app.proposal_edits import proposal_edit, stored_by_id
from pose_studio.cli.main import main
from pose_studio.core.annotation import Instance, InstanceKind, Provenance
from pose_studio.core.edits import StaleEditError
from pose_studio.core.proposals import Proposal
from pose_studio.labeling.project_io import video_items
from pose_studio.store import Project
from tests.support.moving_blobs import write_drifting_slab

K = 17
N_FRAMES = 24
V = (0.6, 0.35)  # px per frame of the textured figure


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def figure(f: int, x0: float = 60.0, y0: float = 20.0, vx: float = V[0]) -> np.ndarray:
    rows = [(0, 0), (3, -3), (-3, -3), (6, -1), (-6, -1), (15, 20), (-15, 20), (18, 45),
            (-18, 45), (20, 70), (-20, 70), (10, 75), (-10, 75), (11, 100), (-11, 100),
            (12, 120), (-12, 120)]
    return np.array(rows, np.float64) + np.array([x0 + vx * f, y0 + V[1] * f + 10])


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PNG frames (lossless): a textured slab drifting by sub-pixel steps."""
    d = tmp_path_factory.mktemp("frames")
    return write_drifting_slab(d, N_FRAMES, V)


@pytest.fixture
def project(tmp_path: Path, frames_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    proj = tmp_path / "p.posestudio"
    assert _run(capsys, "new", str(proj))[0] == 0
    rc, _, err = _run(capsys, "add-video", str(proj), str(frames_dir))
    assert rc == 0, err
    return proj


def pred(xy: np.ndarray, score: float = 0.9) -> Instance:
    return Instance(xy=xy, visibility=np.full(K, 2), kind=InstanceKind.PREDICTED,
                    kp_scores=np.full(K, score), score=score)


def test_track_writes_track_ids_only(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Project.open(project) as p:
        vid = p.videos()[0].id
        run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=["cpu"],
                                 params={})
        rng = np.random.default_rng(0)
        items = []
        for f in range(N_FRAMES):
            pair = [pred(figure(f)), pred(figure(f, x0=200, vx=-2.0), 0.8)]
            for i in rng.permutation(2):
                items.append((f, pair[i]))
        p.add_predictions(vid, items, run)
        before = {i.id: i for _, i in video_items(p, vid)}
    rc, out, err = _run(capsys, "track", str(project))
    assert rc == 0, err
    assert "2 tracks" in out
    with Project.open(project) as p:
        after = {i.id: i for _, i in video_items(p, vid)}
        assert len(p.tracks()) == 2
        tracks_of_first = {i.track_id for i in after.values() if i.xy[0, 0] < 140}
        assert len(tracks_of_first) == 1  # the slow person kept one identity
        for iid, inst in after.items():
            old = before[iid]
            assert inst.track_id is not None
            assert inst.same_values(old.replace(track_id=inst.track_id))  # nothing else changed
        assert [h.label for h in p.history()] == [f"track {2 * N_FRAMES} predictions"]
    rc, out, err = _run(capsys, "track", str(project))  # again: the old tracks are dropped
    assert rc == 0, err
    with Project.open(project) as p:
        assert len(p.tracks()) == 2
    assert _run(capsys, "undo", str(project))[0] == 0
    with Project.open(project) as p:
        assert len(p.tracks()) == 2 and {i.track_id for _, i in video_items(p, vid)} == \
            {i.track_id for i in after.values()}
    assert _run(capsys, "undo", str(project))[0] == 0  # the first tracking, rows and all
    with Project.open(project) as p:
        assert p.tracks() == []
        assert all(i.same_values(before[i.id]) for _, i in video_items(p, vid))
    rc, _, err = _run(capsys, "track", str(project), "--frames", "5:3")
    assert rc == 1 and err.startswith("error:") and err.count("\n") == 1


def test_interpolate_fills_between_keyframes_exactly(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with Project.open(project) as p:
        vid = p.videos()[0].id
        tid = p.create_track("dancer")
        for f in (2, 12, 20):
            p.add_instance(vid, f, Instance(xy=figure(f), visibility=np.full(K, 2), track_id=tid))
    rc, out, err = _run(capsys, "interpolate", str(project), "--frames", "0:24", "--track",
                        "dancer", "--method", "cubic")
    assert rc == 0, err
    assert "16 added" in out
    with Project.open(project) as p:
        got = {f: i for f, i in video_items(p, vid, None, "user")}
        assert sorted(got) == list(range(2, 21))
        for f in (3, 7, 15, 19):
            np.testing.assert_allclose(got[f].xy, figure(f), atol=1e-9)
            assert (got[f].provenance == Provenance.INTERPOLATED).all()
            assert got[f].track_id == tid
    # again: updates its own output, never a label, adds nothing
    rc, out, _ = _run(capsys, "interpolate", str(project), "--frames", "0:24", "--method",
                      "cubic")
    assert rc == 0 and "already hold exactly these poses" in out
    with Project.open(project) as p:
        p.update_instance(got[7].replace(xy=got[7].xy + 2.0))
    rc, out, _ = _run(capsys, "interpolate", str(project), "--frames", "0:24", "--method",
                      "cubic")
    assert rc == 0 and "0 added, 1 replaced" in out
    assert _run(capsys, "undo", str(project))[0] == 0
    with Project.open(project) as p:
        np.testing.assert_allclose(p.instance(got[7].id).xy, got[7].xy + 2.0)  # type: ignore[arg-type]
    rc, _, err = _run(capsys, "undo", str(project))  # frame 7 was changed outside the history
    assert rc == 1 and "was changed since" in err
    rc, _, err = _run(capsys, "interpolate", str(project), "--frames", "0:24", "--track", "nope")
    assert rc == 1 and "no track 'nope'" in err


def test_propagate_follows_the_frames_and_keeps_labels(project: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with Project.open(project) as p:
        vid = p.videos()[0].id
        tid = p.create_track("t")
        p.add_instance(vid, 4, Instance(xy=figure(4), visibility=np.full(K, 2), track_id=tid))
        p.add_instance(vid, 10, Instance(xy=figure(10) + 3.0, visibility=np.full(K, 2),
                                         track_id=tid))  # a label in the way: left alone
    rc, out, err = _run(capsys, "propagate", str(project), "--from", "4", "--to", "16",
                        "--quiet")
    assert rc == 0, err
    assert "11 added" in out
    with Project.open(project) as p:
        got = {f: i for f, i in video_items(p, vid, None, "user")}
        assert sorted(got) == list(range(4, 17))
        np.testing.assert_allclose(got[10].xy, figure(10) + 3.0)
        errs = [np.linalg.norm(got[f].xy - figure(f), axis=1) for f in range(11, 17)]
        assert float(np.median(errs)) < 0.5
        assert (got[16].provenance == Provenance.PROPAGATED).all()
        assert [h.label for h in p.history()] == ["propagate 1 label frames 4→16"]
    rc, out, err = _run(capsys, "propagate", str(project), "--from", "16", "--to", "4",
                        "--quiet")  # backward from a propagated frame: it is not a label
    assert rc == 1 and "no label" in err
    rc, _, err = _run(capsys, "propagate", str(project), "--from", "4", "--to", "99")
    assert rc == 1 and "outside video" in err


def test_suggest_lists_ranked_frames(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Project.open(project) as p:
        vid = p.videos()[0].id
        tid = p.create_track("t")
        items = []
        for f in range(N_FRAMES):
            xy = figure(f)
            if f == 9:
                xy = xy.copy()
                xy[[15, 16]] = xy[[16, 15]]  # ankles swapped on one frame
            items.append((f, pred(xy, 0.3 if f == 17 else 0.9).replace(track_id=tid)))
        p.add_predictions(vid, items, None)
    rc, out, err = _run(capsys, "suggest", str(project), "--kinds", "all", "--count", "40")
    assert rc == 0, err
    lines = out.splitlines()
    assert any("frame 9\t" in ln and "swap?" in ln for ln in lines)
    assert any("frame 17\t" in ln and "low confidence" in ln for ln in lines)
    assert any("diverse" in ln for ln in lines) and any("uniform" in ln for ln in lines)
    rc, _, err = _run(capsys, "suggest", str(project), "--kinds", "magic")
    assert rc == 1 and "unknown suggestion kind" in err


def test_a_proposal_is_one_edit_and_stale_ones_write_nothing(project: Path) -> None:
    with Project.open(project) as p:
        vid = p.videos()[0].id
        a = p.add_instance(vid, 1, Instance(xy=figure(1), visibility=np.full(K, 2)))
        b = p.add_instance(vid, 2, Instance(xy=figure(2), visibility=np.full(K, 2)))
        prop = Proposal(add=((3, Instance(xy=figure(3), visibility=np.full(K, 2))),),
                        replace=(a.replace(xy=figure(1) + 1),), delete=(b,))
        stored = stored_by_id(video_items(p, vid))
        edit = proposal_edit(vid, prop, stored, "tool")
        assert edit is not None
        p.delete_instance(b.id)  # type: ignore[arg-type]  # changed behind the edit's back
        with pytest.raises(StaleEditError, match="is gone"):
            p.apply_edit(edit)
        assert [f for f, _ in video_items(p, vid)] == [1]
        np.testing.assert_allclose(p.instance(a.id).xy, figure(1))  # type: ignore[arg-type]
        b = p.add_instance(vid, 2, Instance(xy=figure(2), visibility=np.full(K, 2)))
        edit = proposal_edit(vid, Proposal(prop.add, prop.replace, (b,)),
                             stored_by_id(video_items(p, vid)), "tool")
        p.apply_edit(edit)  # type: ignore[arg-type]
        assert [f for f, _ in video_items(p, vid)] == [1, 3]
        assert p.frame_arrays(vid).labeled.nonzero()[0].tolist() == [1, 3]  # summaries kept
        p.undo()
        assert [f for f, _ in video_items(p, vid)] == [1, 2]
        np.testing.assert_allclose(p.instance(a.id).xy, figure(1))  # type: ignore[arg-type]


def test_smoothed_predictions_become_a_new_run(project: Path) -> None:
    from pose_studio.core.smoothing import smooth_track
    from pose_studio.labeling.project_io import write_new_run

    with Project.open(project) as p:
        vid = p.videos()[0].id
        run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=["cpu"],
                                 params={})
        rng = np.random.default_rng(0)
        p.add_predictions(vid, [(f, pred(figure(f) + rng.normal(0, 1, (K, 2))).replace(
            track_id=None)) for f in range(N_FRAMES)], run)
        old = video_items(p, vid)
        new_run = write_new_run(p, vid, smooth_track(old, "savgol"), model_path="m.onnx",
                                model_hash="h", params={"smoothed_from": run})
        assert video_items(p, vid) != old  # the new run is the one shown now
        after = video_items(p, vid, run="all")
        assert len(after) == 2 * len(old) and new_run != run
        kept = {i.id: i for _, i in after}
        assert all(kept[i.id].same_values(i) for _, i in old)  # the model's run untouched
        assert sum(i.model_run_id == new_run for _, i in after) == len(old)



def test_smooth_writes_a_new_run_and_never_touches_the_source(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``pose-studio smooth``: jitter goes down, the source run is kept as it was, two people
    without tracks are refused (smoothing across them would blend them), one is a track."""
    rng = np.random.default_rng(1)
    truth = np.stack([figure(f) for f in range(N_FRAMES)])
    with Project.open(project) as p:
        vid = p.videos()[0].id
        run = p.create_model_run(model_path="m.onnx", model_hash="h", providers=["cpu"],
                                 params={})
        noisy = truth + rng.normal(0, 1.5, truth.shape)
        p.add_predictions(vid, [(f, pred(noisy[f])) for f in range(N_FRAMES)], run)
        before = {i.id: i for _, i in video_items(p, vid, source="predicted", run=run)}
    rc, out, err = _run(capsys, "smooth", str(project), "--method", "savgol", "--window", "9")
    assert rc == 0, err
    assert f"of model run {run} into model run" in out and "(shown;" in out
    with Project.open(project) as p:
        new = p.shown_runs(vid).run_id
        assert new != run
        smoothed = np.stack([i.xy for _, i in sorted(video_items(
            p, vid, source="predicted", run=new), key=lambda t: t[0])])
        err_before = np.abs(noisy - truth).mean()
        assert np.abs(smoothed - truth).mean() < 0.7 * err_before
        kept = {i.id: i for _, i in video_items(p, vid, source="predicted", run=run)}
        assert kept.keys() == before.keys()
        assert all(kept[k].same_values(before[k]) for k in before)
        assert p.history()[-1].label == f"smooth model run {run} (savgol)"
        # a second untracked person on the same frames: which point belongs to whom is unknown
        other = p.create_model_run(model_path="m.onnx", model_hash="h", providers=["cpu"],
                                   params={})
        p.add_predictions(vid, [(f, pred(truth[f] + 80)) for f in range(N_FRAMES)]
                          + [(f, pred(truth[f])) for f in range(N_FRAMES)], other)
    rc, out, err = _run(capsys, "smooth", str(project), "--run", str(other))
    assert rc == 1 and "run the tracker first" in err and len(err.strip().splitlines()) == 1
    rc, out, err = _run(capsys, "smooth", str(project), "--run", str(run), "--method", "savgol",
                        "--window", "4")
    assert rc == 1 and "window must be odd" in err

@pytest.fixture(scope="module")
def people_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """PNG frames of two rendered people walking apart, and one person's true keypoints."""
    from pose_studio.synth.crossing import render_crossing_clip

    clip = render_crossing_clip(5, 6, (320, 180), 2, occlude=False)
    d = tmp_path_factory.mktemp("people")
    for f, img in enumerate(clip.frames):
        cv2.imwrite(str(d / f"frame{f:03d}.png"), img)
    return d, [gt.keypoints[0].copy() for gt in clip.gts]


def test_propagate_with_the_model_rerun_around_the_person(
        tmp_path: Path, people_dir: tuple[Path, list[np.ndarray]],
        capsys: pytest.CaptureFixture[str]) -> None:
    d, truth = people_dir
    proj = tmp_path / "m.posestudio"
    assert _run(capsys, "new", str(proj))[0] == 0
    assert _run(capsys, "add-video", str(proj), str(d))[0] == 0
    with Project.open(proj) as p:
        vid = p.videos()[0].id
        p.add_instance(vid, 0, Instance(xy=truth[0], visibility=np.full(K, 2)))
    rc, out, err = _run(capsys, "propagate", str(proj), "--from", "0", "--to", "5",
                        "--model", "bundled", "--quiet")
    assert rc == 0, err
    assert "5 added" in out
    with Project.open(proj) as p:
        got = {f: i for f, i in video_items(p, vid, None, "user")}
    assert sorted(got) == list(range(6))
    assert any((got[f].provenance == Provenance.PREDICTED).any() for f in range(1, 6))
    err5 = np.linalg.norm(got[5].xy - truth[5], axis=1)
    assert float(np.median(err5)) < 3.0  # people ~55 px tall
    rc, _, err = _run(capsys, "propagate", str(proj), "--from", "0", "--to", "5",
                      "--model", "bundled", "--no-fill")
    assert rc == 1 and "--no-fill" in err and err.count("\n") == 1
    rc, _, err = _run(capsys, "propagate", str(proj), "--from", "0", "--to", "5",
                      "--model", str(tmp_path / "none.onnx"))
    assert rc == 1 and err.startswith("error:") and err.count("\n") == 1
