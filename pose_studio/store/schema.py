"""The project file's tables (SQLAlchemy 2.0 typed ORM), schema version ``SCHEMA_VERSION``.

Keypoints are stored packed, one row per instance: ``xy`` (K*2 float64, little-endian),
``visibility`` and ``provenance`` (K uint8) and ``kp_scores`` (K float32 or NULL). Measured
against a keypoint table with an ``(instance_id, idx)`` key on 100k instances x 17 keypoints:
about 5x faster to insert and 40% smaller, with bit-exact values; nothing needs SQL over single
keypoints (the export and the GUI always read whole instances).

``frame_summary`` keeps per-frame counts and scores in blobs of ``summary.SUMMARY_CHUNK`` (256)
frames, records of ``summary.SUMMARY_DTYPE`` (user count, prediction count, scored count, min
score f32, score sum f64), updated in the same transaction as every instance write, so the GUI's
whole-video arrays are a few thousand blob reads (~0.1 s for a million frames) instead of a
million-row query (~2-4 s). The chunk size and record layout are part of the file format:
changing them needs a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "AssignmentRow",
    "Base",
    "CategoryRow",
    "FrameMetaRow",
    "FrameRow",
    "FrameSummaryRow",
    "InstanceMetaRow",
    "InstanceRow",
    "JournalRow",
    "MetaRow",
    "ModelRunRow",
    "RegionRow",
    "RunChunkRow",
    "SchemaVersionRow",
    "ShownRunRow",
    "SkeletonRow",
    "SourceImageRow",
    "SuggestionRow",
    "TrackRow",
    "VideoRow",
]

#: ``PRAGMA application_id`` of a project file ("PSTD"): tells it from any other SQLite file.
APPLICATION_ID = 0x50535444
#: The schema version this code writes; older files are migrated on open (migrations.py).
SCHEMA_VERSION = 10

KIND_USER = 0
KIND_PREDICTED = 1

#: Every integer column: SQLite's INTEGER (64-bit already), PostgreSQL's BIGINT (ids, file sizes
#: and times in nanoseconds, old 64-bit fingerprints do not fit its 32-bit INTEGER; an
#: autoincrementing key becomes BIGSERIAL).
Int = Integer().with_variant(BigInteger(), "postgresql")


class Base(DeclarativeBase):
    pass


class SchemaVersionRow(Base):
    __tablename__ = "schema_version"
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    version: Mapped[int] = mapped_column(Int, nullable=False)
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class MetaRow(Base):
    """Free key/value facts about the project (created_at, written_by, ...)."""

    __tablename__ = "project_meta"
    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


class SkeletonRow(Base):
    """The project's skeleton as ``Skeleton.to_json()`` (names, edges, flips, sigmas, colours)."""

    __tablename__ = "skeletons"
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    num_keypoints: Mapped[int] = mapped_column(Int, nullable=False)
    json: Mapped[str] = mapped_column(Text, nullable=False)


class VideoRow(Base):
    __tablename__ = "videos"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    # Relative to the project file's folder (None when it cannot be expressed, e.g. another drive).
    rel_path: Mapped[str | None] = mapped_column(Text)
    abs_path: Mapped[str] = mapped_column(Text, nullable=False)
    width: Mapped[int] = mapped_column(Int, nullable=False)
    height: Mapped[int] = mapped_column(Int, nullable=False)
    frame_count: Mapped[int] = mapped_column(Int, nullable=False)
    fps: Mapped[float] = mapped_column(Float, nullable=False)
    fps_num: Mapped[int | None] = mapped_column(Int)
    fps_den: Mapped[int | None] = mapped_column(Int)
    vfr: Mapped[bool] = mapped_column(Int, nullable=False, default=0)
    codec: Mapped[str] = mapped_column(String, nullable=False, default="")
    duration_s: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    rotation: Mapped[int] = mapped_column(Int, nullable=False, default=0)
    kind: Mapped[str] = mapped_column(String, nullable=False, default="file")
    index_blob: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    added_at: Mapped[float] = mapped_column(Float, nullable=False)
    # The file's identity when added (or last accepted): size, mtime and a digest of its first
    # and last MiB (see identity.py). NULL: not recorded (added by format 2 or earlier).
    file_size: Mapped[int | None] = mapped_column(Int)
    file_mtime_ns: Mapped[int | None] = mapped_column(Int)
    file_digest: Mapped[str | None] = mapped_column(String)


class FrameRow(Base):
    """Per-frame facts that are not instances (the decoded frame's fingerprint)."""

    __tablename__ = "frames"
    __table_args__ = ({"sqlite_with_rowid": False},)
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    frame_idx: Mapped[int] = mapped_column(Int, primary_key=True)
    # Old (format <= 3) unsigned 64-bit hash stored as signed (SQLite integers are signed);
    # still read and checked for frames fingerprinted by older versions.
    fingerprint: Mapped[int | None] = mapped_column(Int)
    # Format 4: the frame's signature (pose_studio.video.frame_signature: a small thumbnail).
    # A frame has at most one of the two (storing one clears the other).
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)


class TrackRow(Base):
    __tablename__ = "tracks"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class ModelRunRow(Base):
    __tablename__ = "model_runs"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    model_path: Mapped[str] = mapped_column(Text, nullable=False)
    model_hash: Mapped[str] = mapped_column(String, nullable=False)
    providers_json: Mapped[str] = mapped_column(Text, nullable=False)
    params_json: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class InstanceRow(Base):
    """One instance with its keypoints packed (see the module docstring).

    ``AUTOINCREMENT`` so a deleted id is never handed out again: undo restores it by id.
    ``source_id`` has no foreign key on purpose: the prediction a user instance was accepted
    from may later be replaced by a new model run, and the link stays as history.
    """

    __tablename__ = "instances"
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), nullable=False
    )
    frame_idx: Mapped[int] = mapped_column(Int, nullable=False)
    kind: Mapped[int] = mapped_column(Int, nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    bbox_x: Mapped[float | None] = mapped_column(Float)
    bbox_y: Mapped[float | None] = mapped_column(Float)
    bbox_w: Mapped[float | None] = mapped_column(Float)
    bbox_h: Mapped[float | None] = mapped_column(Float)
    track_id: Mapped[int | None] = mapped_column(ForeignKey("tracks.id", ondelete="SET NULL"))
    source_id: Mapped[int | None] = mapped_column(Int)
    model_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_runs.id", ondelete="SET NULL")
    )
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)
    num_keypoints: Mapped[int] = mapped_column(Int, nullable=False)
    xy: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    visibility: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    provenance: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    kp_scores: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The value frame summaries use: score, else mean labeled keypoint score (None: neither).
    summary_score: Mapped[float | None] = mapped_column(Float)
    # Format 8: the row's version (1 when written, +1 at every change through the store; an
    # edit names the version it was made against) and who wrote it last (None: a model run or
    # an older version of Pose Studio).
    version: Mapped[int] = mapped_column(Int, nullable=False, server_default=text("1"))
    edited_by: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("kind IN (0, 1)", name="kind_valid"),
        CheckConstraint("length(xy) = 16 * num_keypoints", name="xy_size"),
        CheckConstraint("length(visibility) = num_keypoints", name="vis_size"),
        Index("ix_instances_frame", "video_id", "frame_idx"),
        {"sqlite_autoincrement": True},
    )


class ShownRunRow(Base):
    """Which model run a video shows (its predictions are the ones the frame summaries count).

    Predictions of every run are kept side by side; ``run_id`` NULL means the predictions that
    have no run. ``pinned`` 0: the video follows its newest run (the default), 1: the user
    chose ``run_id``. ``compare_run_id`` is a second run shown beside it (A/B), or NULL. No
    foreign keys on the run ids: NULL already means "predictions without a run".
    """

    __tablename__ = "shown_runs"
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int | None] = mapped_column(Int)
    compare_run_id: Mapped[int | None] = mapped_column(Int)
    pinned: Mapped[int] = mapped_column(Int, nullable=False, default=0)


class FrameSummaryRow(Base):
    """Per-frame counts/scores for frames ``[chunk * SUMMARY_CHUNK, (chunk + 1) * SUMMARY_CHUNK)``."""

    __tablename__ = "frame_summary"
    __table_args__ = ({"sqlite_with_rowid": False},)
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    chunk: Mapped[int] = mapped_column(Int, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


# --- format 6: what datasets bring beyond keypoints (dataset_rows.py reads and writes these) -------
class SourceImageRow(Base):
    """One image of an image-set source (a ``videos`` row of kind ``images``): frame ``frame_idx``
    is the file ``path`` (relative to the set's folder, ``/``-separated) of its own size."""

    __tablename__ = "source_images"
    __table_args__ = ({"sqlite_with_rowid": False},)
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    frame_idx: Mapped[int] = mapped_column(Int, primary_key=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    width: Mapped[int | None] = mapped_column(Int)
    height: Mapped[int | None] = mapped_column(Int)


class CategoryRow(Base):
    """A class of annotated things (species, "person"...); ``extra_json``: what the file said
    about it (COCO id, supercategory, keypoint names...)."""

    __tablename__ = "categories"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False, unique=True)
    extra_json: Mapped[str | None] = mapped_column(Text)


class InstanceMetaRow(Base):
    """An instance's category and the fields its file carried that the store has no column for
    (original ids, area, segmentation, attributes...), as JSON.

    No foreign key to ``instances`` on purpose: instance ids are never reused (AUTOINCREMENT),
    so a deleted instance restored by undo with its old id finds its row again.
    """

    __tablename__ = "instance_meta"
    instance_id: Mapped[int] = mapped_column(Int, primary_key=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    extra_json: Mapped[str | None] = mapped_column(Text)


class FrameMetaRow(Base):
    """Facts a dataset gave about one frame: its image id in the file (``image_id``, JSON text so
    ``3`` and ``"3"`` stay apart; indexed to put a results list on its images) and other fields
    (PoseTrack's ``vid_id``/``frame_id``, licenses, URLs...) as JSON."""

    __tablename__ = "frame_meta"
    __table_args__ = (
        Index("ix_frame_meta_image_id", "image_id"),
        {"sqlite_with_rowid": False},
    )
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    frame_idx: Mapped[int] = mapped_column(Int, primary_key=True)
    image_id: Mapped[str | None] = mapped_column(Text)
    extra_json: Mapped[str | None] = mapped_column(Text)


class RegionRow(Base):
    """An area without keypoints on a frame (COCO crowd regions, box-only annotations), kept so
    exports give them back; ``extra_json`` holds segmentation, area, ids..."""

    __tablename__ = "regions"
    __table_args__ = (
        Index("ix_regions_frame", "video_id", "frame_idx"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), nullable=False
    )
    frame_idx: Mapped[int] = mapped_column(Int, nullable=False)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL")
    )
    bbox_x: Mapped[float | None] = mapped_column(Float)
    bbox_y: Mapped[float | None] = mapped_column(Float)
    bbox_w: Mapped[float | None] = mapped_column(Float)
    bbox_h: Mapped[float | None] = mapped_column(Float)
    extra_json: Mapped[str | None] = mapped_column(Text)


class JournalRow(Base):
    """One step of the edit history, written in the same transaction as the edit it records.

    ``kind``: ``edit`` (``payload`` is the packed edit, ``store.edit_codec``), ``import`` (the
    ids an import added, ``store.journal``; ``stash`` holds the removed rows while it is undone)
    or ``skeleton`` (a change of the project's skeleton and the removed keypoints' values,
    ``store.skeleton_change``).
    Undone steps (the redo list) always come after the done ones; a new edit drops them. No
    foreign keys: the history outlives the videos and instances it names.
    """

    __tablename__ = "edit_journal"
    __table_args__ = (
        CheckConstraint("kind IN ('edit', 'import', 'skeleton')", name="journal_kind"),
        CheckConstraint("undone IN (0, 1)", name="journal_undone"),
        Index("ix_journal_user", "made_by", "seq"),  # format 10: each user's own undo stack
        {"sqlite_autoincrement": True},
    )
    seq: Mapped[int] = mapped_column(Int, primary_key=True)
    kind: Mapped[str] = mapped_column(String, nullable=False)
    label: Mapped[str] = mapped_column(Text, nullable=False)
    made_by: Mapped[str] = mapped_column(Text, nullable=False)
    made_at: Mapped[float] = mapped_column(Float, nullable=False)
    undone: Mapped[int] = mapped_column(Int, nullable=False, default=0)
    undone_by: Mapped[str | None] = mapped_column(Text)
    undone_at: Mapped[float | None] = mapped_column(Float)
    video_id: Mapped[int | None] = mapped_column(Int)
    first_frame: Mapped[int | None] = mapped_column(Int)
    last_frame: Mapped[int | None] = mapped_column(Int)
    n_frames: Mapped[int] = mapped_column(Int, nullable=False)
    n_instances: Mapped[int] = mapped_column(Int, nullable=False)
    merge_key: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    stash: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))



# --- format 8: frame suggestions and their done marks (store/suggestions.py) ----------------------
class SuggestionRow(Base):
    """A frame worth looking at (``app/suggestions.py`` computes them): why (``kinds``, comma
    separated, and the ``reason`` text), how strongly (``score`` 0..1), and whether someone
    marked it done (``done_at``/``done_by``; NULL: not yet). One row per frame. Not part of the
    edit history: suggestions are recomputable review state, like fingerprints."""

    __tablename__ = "suggestions"
    __table_args__ = ({"sqlite_with_rowid": False},)
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    frame_idx: Mapped[int] = mapped_column(Int, primary_key=True)
    kinds: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    done_at: Mapped[float | None] = mapped_column(Float)
    done_by: Mapped[str | None] = mapped_column(Text)


# --- format 10: several annotators, batch inference on a cluster ------------------------------------
class AssignmentRow(Base):
    """Work given to an annotator: a video, or frames ``[first_frame, stop_frame)`` of it
    (both NULL: the whole video). ``done_at`` is set when the assignee marks it done."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_user", "assignee"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Int, primary_key=True)
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), nullable=False
    )
    first_frame: Mapped[int | None] = mapped_column(Int)
    stop_frame: Mapped[int | None] = mapped_column(Int)
    assignee: Mapped[str] = mapped_column(Text, nullable=False)
    assigned_by: Mapped[str] = mapped_column(Text, nullable=False)
    assigned_at: Mapped[float] = mapped_column(Float, nullable=False)
    done_at: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)


class RunChunkRow(Base):
    """A chunk of a batch model run that was written (frames ``[first_frame, stop_frame)`` of a
    video), recorded in the same transaction as its predictions: a chunk retried by the cluster
    after it was written is not written twice."""

    __tablename__ = "run_chunks"
    run_id: Mapped[int] = mapped_column(
        ForeignKey("model_runs.id", ondelete="CASCADE"), primary_key=True
    )
    video_id: Mapped[int] = mapped_column(
        ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    first_frame: Mapped[int] = mapped_column(Int, primary_key=True)
    stop_frame: Mapped[int] = mapped_column(Int, nullable=False)
    instances: Mapped[int] = mapped_column(Int, nullable=False)
    written_at: Mapped[float] = mapped_column(Float, nullable=False)
