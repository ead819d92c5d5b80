"""The window's background frame check: the same check as ``info --check``, off the GUI thread;
it fills missing signatures while the video is unchanged and accepts a changed file that checks
out clean."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.gui.conftest import add_label as _add_user
from tests.gui.conftest import open_fake


def test_background_check_fills_missing_signatures_and_accepts_a_clean_changed_file(
        qtbot, make_window, fake_video, monkeypatch):
    import pose_studio.formats.frame_check as fc
    from pose_studio.video import frame_signature
    from tests.support.videos import draw_index_frame

    win = make_window()
    open_fake(qtbot, win, fake_video)
    proj_path, vid = Path(win.session.project.path), win.session.video_id
    _add_user(win, 5)
    _add_user(win, 9)
    assert win.session.project.frames_missing_fingerprints(vid) == [5, 9]
    win.shutdown()

    threads: list[str] = []
    checks: list[str] = []
    orig_fill, orig_check = fc.fill_missing_fingerprints, fc.check_video_frames

    def spy_fill(*a, **k):
        threads.append(threading.current_thread().name)
        return orig_fill(*a, **k)

    def spy_check(*a, **k):
        checks.append(threading.current_thread().name)
        return orig_check(*a, **k)

    monkeypatch.setattr(fc, "fill_missing_fingerprints", spy_fill)
    monkeypatch.setattr(fc, "check_video_frames", spy_check)
    win2 = make_window()
    win2.open_paths([str(proj_path)])
    qtbot.waitUntil(lambda: win2.fingerprint_report is not None, timeout=5000)
    assert threads and threads[0] != threading.main_thread().name  # in a worker
    rep = win2.fingerprint_report
    # the file is byte-identical to when it was added: fill the gaps, decode nothing else
    assert rep.filled == 2 and rep.checked == 0 and rep.bad_frames == () and not rep.accepted
    assert checks == []
    fps = win2.session.project.fingerprints(vid)
    assert fps == {f: frame_signature(draw_index_frame(f, (160, 120))) for f in (5, 9)}
    assert win2.fingerprints.stored == fps
    win2.shutdown()

    # the file changes (other bytes, same pictures): a clean check makes it the reference
    fake_video.write_bytes(b"\1" * 64)
    win3 = make_window()
    win3.open_paths([str(proj_path)])
    qtbot.waitUntil(lambda: win3.fingerprint_report is not None, timeout=5000)
    rep = win3.fingerprint_report
    assert checks and checks[0] != threading.main_thread().name  # the CLI's check, in a worker
    assert rep.accepted and rep.bad_frames == () and rep.filled == 0 and rep.checked == 2
    assert win3.session.project.video_file_status(vid).state == "same"
    assert not win3.banner.isVisible()
    win3.shutdown()
