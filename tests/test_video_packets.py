"""Frames a player shows, whatever the packets look like: hidden VP8/VP9 alt-ref packets,
repeated timestamps, AVI empty (dropped-frame) chunks. Every frame is checked by the index
drawn into it, by random access and sequentially."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from pose_studio.video import open_video
from pose_studio.video.bitstream import shown_frames
from pose_studio.video.index import FLAG_HIDDEN, FLAG_KEY, PacketIndex
from tests.support.odd_videos import (
    make_avi_with_dropped_frame,
    make_hidden_frame_video,
    make_repeated_pts_video,
)
from tests.support.videos import read_index_from_frame


def _exact_everywhere(path: Path, n: int) -> list[str]:
    with open_video(path) as r:
        assert len(r) == n
        order = list(range(n))
        random.Random(5).shuffle(order)
        for i in order:
            assert read_index_from_frame(r.get(i)) == i, f"random access to frame {i}"
        r.clear_cache()
        for i, frame in r.iter_frames():
            assert read_index_from_frame(frame) == i, f"sequential frame {i}"
        assert r.index_status == "built"
        blob = r.index_bytes()
        kinds = [x.kind for x in r.meta.notices]
        assert not r.meta.truncated
    with open_video(path, index=blob) as r2:  # the stored index numbers frames the same way
        assert r2.index_status == "loaded" and len(r2) == n
        for i in (n - 1, 0, n // 2):
            assert read_index_from_frame(r2.get(i)) == i
    return kinds


def test_vp8_hidden_packets_are_not_frames(tmp_path: Path) -> None:
    path = tmp_path / "altref.webm"
    hidden = make_hidden_frame_video(path, 45, "vp8", gop=10)
    assert hidden == 5
    kinds = _exact_everywhere(path, 45)
    assert "hidden_frames" in kinds


def test_vp9_superframes_count_once(tmp_path: Path) -> None:
    # The WebM muxer packs each hidden VP9 frame with the next one into a superframe.
    path = tmp_path / "altref9.webm"
    make_hidden_frame_video(path, 45, "vp9", gop=10)
    kinds = _exact_everywhere(path, 45)
    assert "hidden_frames" not in kinds


def test_repeated_timestamps_follow_the_decoder(tmp_path: Path) -> None:
    path = make_repeated_pts_video(tmp_path / "rep.mkv", 60)
    kinds = _exact_everywhere(path, 60)
    assert "repeated_timestamps" in kinds


def test_avi_empty_chunks_are_not_truncation(tmp_path: Path) -> None:
    path = make_avi_with_dropped_frame(tmp_path / "drop.avi", 40, (9, 25))
    kinds = _exact_everywhere(path, 40)
    assert "dropped_frames" in kinds and "truncated" not in kinds


# ------------------------------------------------------------------------- pure parts
def test_vp8_and_vp9_headers() -> None:
    assert shown_frames("vp8", bytes([0x10, 0, 0])) == 1
    assert shown_frames("vp8", bytes([0x00, 0, 0])) == 0
    assert shown_frames("vp8", b"\x10") is None  # too short to tell
    key_shown, key_hidden = bytes([0b10000010]), bytes([0b10000000])
    assert shown_frames("vp9", key_shown) == 1
    assert shown_frames("vp9", key_hidden) == 0
    assert shown_frames("vp9", bytes([0b10001000])) == 1  # show_existing_frame
    assert shown_frames("vp9", bytes([0b10110001])) == 1  # profile 3: a reserved bit first
    assert shown_frames("vp9", bytes([0b10110000])) == 0
    assert shown_frames("vp9", bytes([0b01000010])) is None  # not a VP9 frame marker
    # a superframe: hidden (2 bytes) + shown (3 bytes), index with 1-byte sizes
    marker = 0b11000000 | 1  # 2 frames, 1-byte sizes
    sf = key_hidden + b"\0" + key_shown + b"\0\0" + bytes([marker, 2, 3, marker])
    assert shown_frames("vp9", sf) == 1
    assert shown_frames("h264", b"\0\0\1") is None


def test_count_mode_skips_hidden_packets() -> None:
    # packets: K H P P K H P  (H hidden) -> 5 frames; keyframe ranks 0 and 3
    flags = np.array([FLAG_KEY, FLAG_HIDDEN, 0, 0, FLAG_KEY, FLAG_HIDDEN, 0], np.uint8)
    ts = np.arange(7, dtype=np.int64)
    idx = PacketIndex(ts, ts, flags, ts, mode="count")
    assert idx.n_frames == 5
    assert idx.frame_pkt.tolist() == [0, 2, 3, 4, 6]
    assert idx.key_rank == [0, 3]
    assert [idx.start_key(f) for f in range(5)] == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("mode", ["pts", "decoded"])
def test_hidden_packets_are_not_frames_in_other_modes(mode: str) -> None:
    pts = np.array([0, 2, 2, 1, 3], np.int64)  # the hidden packet repeats the next one's pts
    flags = np.array([FLAG_KEY, FLAG_HIDDEN, 0, 0, 0], np.uint8)
    order = np.array([0, 3, 2, 4], np.int64) if mode == "decoded" else None
    idx = PacketIndex(pts, pts, flags, np.arange(5), mode=mode, order=order)  # type: ignore[arg-type]
    assert idx.n_frames == 4
    assert idx.frame_pkt.tolist() == [0, 3, 2, 4]
    if mode == "decoded":
        assert [idx.frame_of_packet(p) for p in range(5)] == [0, None, 2, 1, 3]
    # several packets share pts 2: the byte position tells them apart
    assert idx.packet_of(2, 2) is None
    assert idx.packet_of(2, 2, pos=2) == 2


def test_add_video_and_info_show_the_notices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from pose_studio.cli.main import main

    video = make_avi_with_dropped_frame(tmp_path / "drop.avi", 30, (9,))
    proj = tmp_path / "p.posestudio"
    assert main(["new", str(proj)]) == 0
    assert main(["add-video", str(proj), str(video)]) == 0
    out = capsys.readouterr().out
    lines = [x for x in out.splitlines() if "dropped-frame" in x]
    assert len(lines) == 1 and "video 1 (drop.avi)" in lines[0] and "30 frames" in out
    assert main(["info", str(proj)]) == 0
    out = capsys.readouterr().out
    assert sum("dropped-frame (empty) chunk" in x for x in out.splitlines()) == 1
    assert main(["info", "--json", str(proj)]) == 0
    (notice,) = json.loads(capsys.readouterr().out)["videos"][0]["notices"]
    assert notice["kind"] == "dropped_frames" and notice["severity"] == "info"


def test_an_index_from_the_older_indexer_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "altref.webm"
    make_hidden_frame_video(path, 30, "vp8", gop=10)
    with open_video(path) as r:
        idx = r._idx  # type: ignore[attr-defined]
    # What the previous version stored: every packet a frame, no indexer version.
    info = {k: v for k, v in idx.info.items() if k not in ("indexer", "notices")}
    old = PacketIndex(idx.pts, idx.dts, idx.flags & ~np.uint8(FLAG_HIDDEN), idx.pos,
                      mode="count", info=info)
    assert old.n_frames == 33
    with open_video(path, index=old.to_bytes()) as r:
        assert r.index_status == "stale" and len(r) == 30
        assert read_index_from_frame(r.get(29)) == 29


def test_avi_with_open_gops_and_an_empty_chunk(tmp_path: Path) -> None:
    path = make_avi_with_dropped_frame(tmp_path / "og.avi", 48, (20,), codec="h264", gop=12,
                                       bframes=2, open_gop=True)
    kinds = _exact_everywhere(path, 48)
    assert "decode_order" in kinds and "dropped_frames" in kinds
