"""Every window action and its shortcuts, in one table.

The table (:data:`ACTIONS`) is plain data so the shortcuts help dialog can list it and tests can
check it for clashes; :func:`build_actions` turns it into ``QAction`` objects wired to handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence


@dataclass(frozen=True)
class ActionSpec:
    """One user action.

    Attributes:
        id: Stable identifier (handler name, settings key).
        text: Menu text (``&`` marks the mnemonic).
        shortcuts: Key sequences in ``QKeySequence`` portable text, the first is the primary one.
        menu: Menu title the action sits in.
        tip: One-line description (status bar, help dialog).
        checkable: A toggle.
        checked: Initial state of a toggle.
    """

    id: str
    text: str
    shortcuts: tuple[str, ...]
    menu: str
    tip: str
    checkable: bool = False
    checked: bool = False

    @property
    def label(self) -> str:
        """Menu text without the mnemonic marker."""
        return self.text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _a(id_: str, text: str, keys: tuple[str, ...] | str, menu: str, tip: str, **kw: bool) -> ActionSpec:
    if isinstance(keys, str):
        keys = (keys,) if keys else ()
    return ActionSpec(id_, text, keys, menu, tip, **kw)


#: Actions whose shortcut only fires while the frame view has the focus (Tab must keep moving
#: the focus between the other widgets).
VIEW_ONLY: frozenset[str] = frozenset({"next_instance", "prev_instance"})

#: Menus in menu-bar order.
MENUS: tuple[str, ...] = ("&File", "&Edit", "&Label", "&Tracks", "&View", "&Navigate", "&Model",
                          "&Help")

ACTIONS: tuple[ActionSpec, ...] = (
    # File
    _a("open", "&Open Video or Project…", "Ctrl+O", "&File", "Open videos or a .posestudio project"),
    _a("new_project", "&New Project…", "Ctrl+N", "&File", "Create an empty project"),
    _a("add_video", "&Add Video to Project…", "Ctrl+Shift+O", "&File",
       "Add one or more videos to the open project"),
    _a("add_images", "Add &Images to Project…", "", "&File",
       "Add image files as one image set (each image keeps its own name and size)"),
    _a("add_image_folder", "Add Image &Folder to Project…", "", "&File",
       "Add every image under a folder (sub-folders included) as an image set"),
    _a("relink_video", "&Relink Video…", "", "&File", "Point the current video at a moved file"),
    _a("save_as", "Save Project &As…", "Ctrl+Shift+S", "&File",
       "Copy the project to a new file (edits are always saved as you make them)"),
    _a("import_dataset", "&Import…", "Ctrl+I", "&File",
       "Import a dataset file: COCO, SLEAP, DeepLabCut, YOLO-pose, Label Studio, COCO results"),
    _a("export_dataset", "&Export…", "Ctrl+E", "&File",
       "Export labels or predictions as COCO, SLEAP, DeepLabCut or YOLO-pose (with images)"),
    _a("close_project", "&Close Project", "Ctrl+W", "&File", "Close the open project"),
    _a("quit", "&Quit", "Ctrl+Q", "&File", "Quit Pose Studio"),
    # Edit
    _a("undo", "&Undo", ("Ctrl+Z",), "&Edit", "Undo the last edit (saved to the project)"),
    _a("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "&Edit", "Redo the last undone edit"),
    _a("accept", "&Accept Prediction", ("A", "Return", "Enter"), "&Edit",
       "Turn the selected prediction into a user instance (double-click does the same)"),
    _a("accept_all", "Accept &All Predictions on Frame", "Shift+A", "&Edit",
       "Accept every prediction on this frame (one undo step)"),
    _a("add_instance", "Add &Instance at Cursor", ("N", "Insert"), "&Edit",
       "Add an instance at the mouse (copied from the previous labeled frame, or the mean pose)"),
    _a("delete_instance", "&Delete Instance", ("Delete", "Backspace"), "&Edit",
       "Delete the selected instance"),
    _a("cycle_visibility", "Cycle Keypoint &Visibility", "V", "&Edit",
       "Visible → occluded → unlabeled for the selected keypoint (right-click does the same)"),
    _a("move_mode", "&Move Whole Instance", "M", "&Edit",
       "While on, dragging any keypoint moves its whole instance (Shift-drag does it anytime)",
       checkable=True, checked=False),
    _a("nudge_up", "Nudge Keypoint Up", "Up", "&Edit", "Move the selected keypoint 1 px up"),
    _a("nudge_down", "Nudge Keypoint Down", "Down", "&Edit", "Move the selected keypoint 1 px down"),
    _a("nudge_up_10", "Nudge Keypoint Up 10 px", "Shift+Up", "&Edit",
       "Move the selected keypoint 10 px up"),
    _a("nudge_down_10", "Nudge Keypoint Down 10 px", "Shift+Down", "&Edit",
       "Move the selected keypoint 10 px down"),
    _a("next_instance", "Select Next Instance", "Tab", "&Edit",
       "Select the next instance (while the frame view has the keyboard focus; elsewhere Tab "
       "moves the focus as usual)"),
    _a("prev_instance", "Select Previous Instance", "Shift+Tab", "&Edit",
       "Select the previous instance (while the frame view has the keyboard focus)"),
    _a("next_keypoint", "Select Next Keypoint", ".", "&Edit",
       "Select the next keypoint of the instance (unlabeled ones too)"),
    _a("prev_keypoint", "Select Previous Keypoint", ",", "&Edit",
       "Select the previous keypoint of the instance"),
    _a("clear_selection", "Clear Selection", "Escape", "&Edit",
       "Deselect (arrows step frames again); leaves click-to-place"),
    _a("place_mode", "&Click-to-Place Labeling", "K", "&Edit",
       "Label from nothing: each click places the next body part (. and , pick another; "
       "Shift+click: occluded; Esc leaves)", checkable=True, checked=False),
    _a("place_auto_advance", "Auto-Advance to the Next Body Part", "", "&Edit",
       "After a click, click-to-place goes on with the next unlabeled part",
       checkable=True, checked=True),
    _a("edit_skeleton", "Edit S&keleton…", "", "&Edit",
       "Add, rename, reorder and remove keypoints, edges, flip pairs and colours (every "
       "instance follows; one undo step)"),
    _a("preferences", "&Preferences…", "Ctrl+,", "&Edit", "Your name and the keyboard shortcuts"),
    # Label (issue 15's tools: app/pose_tools, carry, bulk; gui/controllers/labeling.py)
    _a("swap_keypoint", "Swap Keypoint with Its Partner", "X", "&Label",
       "Swap the selected keypoint with its left/right partner (e.g. the ankles)"),
    _a("swap_sides", "Swap Left and Right", "Shift+X", "&Label",
       "Swap every left keypoint of the selected instance with its right partner"),
    _a("copy_pose", "&Copy Pose", "Ctrl+C", "&Label", "Copy the selected instance's pose"),
    _a("paste_pose", "&Paste Pose", "Ctrl+V", "&Label",
       "Paste the copied pose onto the selected label, or as a new label on this frame"),
    _a("copy_previous", "Copy Previous Frame's Instances", "Ctrl+Shift+V", "&Label",
       "Copy the labels of the nearest labeled frame before this one (one undo step)"),
    _a("interpolate", "&Interpolate Track (Linear)", "I", "&Label",
       "Fill the frames between the selected track's labels (all tracks when none is "
       "selected) by straight lines; shown as ghosts until accepted"),
    _a("interpolate_cubic", "Interpolate Track (&Cubic)", "Shift+I", "&Label",
       "As Interpolate, with smooth (cubic) curves through the labels"),
    _a("accept_ghosts", "&Accept Interpolated Span", ("Ctrl+Return", "Ctrl+Enter"), "&Label",
       "Write the ghosts of the whole span as labels (one undo step)"),
    _a("propagate_forward", "Propagate &Forward", "O", "&Label",
       "Carry this frame's label(s) to the next frames with optical flow, filled with the "
       "model's confident points; stops at the track's next label (one undo step)"),
    _a("propagate_backward", "Propagate &Backward", "Shift+O", "&Label",
       "Carry this frame's label(s) to the previous frames (one undo step)"),
    _a("carry_fixes", "Carry &Fixes Forward", "", "&Label",
       "After you fix a propagated frame, propagate again from it in the background, up to "
       "the track's next label (its own undo step; labels are never touched; several people "
       "need tracks)",
       checkable=True, checked=True),
    _a("stop_tool", "&Stop / Discard", "Shift+Escape", "&Label",
       "Discard the interpolation ghosts; cancel a running propagation, tracking or search"),
    _a("bulk_edit", "&Bulk Edit Frame Range…", "Ctrl+B", "&Label",
       "Accept predictions above a score, delete predictions under a score or in a range, "
       "delete a track's span (one undo step each)"),
    # Tracks (app/tracks; gui/controllers/tracks.py)
    _a("run_tracker", "&Track Predictions", "Ctrl+Shift+T", "&Tracks",
       "Give the shown run's predictions identities across frames (one undo step)"),
    _a("swap_identities", "&Swap Identities From Here On", "Ctrl+Shift+X", "&Tracks",
       "Swap the selected instance's track with the one chosen in the Tracks panel (else the "
       "nearest other person's), from this frame to the end of the video (one undo step)"),
    _a("rename_track", "&Rename Track…", "F2", "&Tracks",
       "Rename the selected instance's track (or the one chosen in the Tracks panel)"),
    _a("merge_tracks", "&Merge Track Into…", "Ctrl+Shift+M", "&Tracks",
       "Move every instance of the track into another one and delete it"),
    _a("split_track", "S&plit Track Here", "Ctrl+Shift+K", "&Tracks",
       "From this frame on, the track's instances on this video become a new track"),
    _a("delete_track", "&Delete Track", "Ctrl+Shift+Delete", "&Tracks",
       "Delete the track; its instances stay, untracked"),
    _a("smooth_run", "Sm&ooth Predictions Into a New Run…", "Ctrl+Shift+F", "&Tracks",
       "Smooth each track of the shown run (One-Euro or Savitzky-Golay) into a new model run; "
       "the shown run is kept as it is"),
    _a("next_switch", "Next Likely Identity Switch", "Ctrl+J", "&Tracks",
       "Jump to the next frame where a track probably changes person (jump, OKS drop, "
       "crossing)"),
    _a("prev_switch", "Previous Likely Identity Switch", "Ctrl+Shift+J", "&Tracks",
       "Jump to the previous likely identity switch"),
    # View
    _a("fit", "&Fit Frame", ("F", "Ctrl+0"), "&View", "Fit the frame to the window"),
    _a("zoom_in", "Zoom &In", ("Ctrl+=", "Ctrl++", "+"), "&View", "Zoom in at the centre"),
    _a("zoom_out", "Zoom &Out", ("Ctrl+-", "-"), "&View", "Zoom out at the centre"),
    _a("show_skeleton", "Show &Skeleton", "Ctrl+1", "&View", "Draw limbs", checkable=True, checked=True),
    _a("show_keypoints", "Show &Keypoints", "Ctrl+2", "&View", "Draw keypoints",
       checkable=True, checked=True),
    _a("show_labels", "Show Keypoint &Names", "Ctrl+3", "&View", "Write keypoint names",
       checkable=True, checked=False),
    _a("show_predictions", "Show &Predictions", "Ctrl+4", "&View", "Draw model predictions",
       checkable=True, checked=True),
    _a("show_heatmap", "Show &Heatmap", "Ctrl+5", "&View",
       "Overlay the model's heatmap for this frame (selected keypoint, else all)",
       checkable=True, checked=False),
    _a("heatmap_more", "Heatmap More Opaque", "Ctrl+]", "&View", "Raise heatmap opacity"),
    _a("heatmap_less", "Heatmap Less Opaque", "Ctrl+[", "&View", "Lower heatmap opacity"),
    _a("color_by_track", "Colour by &Track", "Ctrl+6", "&View",
       "Draw each tracked instance's limbs in its track's colour", checkable=True,
       checked=True),
    _a("show_trails", "Show Pose &Trails", "T", "&View",
       "Draw where the people shown were over the last and next frames (the selected one "
       "only, when one is selected)", checkable=True, checked=False),
    _a("trail_length", "Pose Trail Length", "Shift+T", "&View",
       "Longer trails: 2 → 5 → 10 → 20 → 30 → 60 frames each way, then 2 again"),
    _a("reset_picture", "Reset &Picture", "", "&View",
       "Brightness, contrast and gamma back to the frame as decoded (Display panel)"),
    # Navigate
    _a("play", "&Play / Pause", "Space", "&Navigate", "Play or pause (drops frames to keep time)"),
    _a("next_frame", "Next Frame", "Right", "&Navigate",
       "Step forward one frame (nudges the keypoint instead when one is selected)"),
    _a("prev_frame", "Previous Frame", "Left", "&Navigate",
       "Step back one frame (nudges the keypoint instead when one is selected)"),
    _a("next_10", "Forward 10 Frames", ("Shift+Right", "PgDown"), "&Navigate",
       "Step forward 10 frames"),
    _a("prev_10", "Back 10 Frames", ("Shift+Left", "PgUp"), "&Navigate", "Step back 10 frames"),
    _a("first_frame", "First Frame", "Home", "&Navigate", "Go to the first frame"),
    _a("last_frame", "Last Frame", "End", "&Navigate", "Go to the last frame"),
    _a("goto_frame", "&Go to Frame…", "Ctrl+G", "&Navigate", "Jump to a frame number"),
    _a("next_labeled", "Next Labeled Frame", "L", "&Navigate", "Jump to the next user-labeled frame"),
    _a("prev_labeled", "Previous Labeled Frame", "Shift+L", "&Navigate",
       "Jump to the previous user-labeled frame"),
    _a("next_unlabeled", "Next Unlabeled Predicted Frame", "U", "&Navigate",
       "Jump to the next frame with predictions but no user label"),
    _a("prev_unlabeled", "Previous Unlabeled Predicted Frame", "Shift+U", "&Navigate",
       "Jump to the previous frame with predictions but no user label"),
    _a("next_low", "Next Low-Confidence Frame", "J", "&Navigate",
       "Jump to the next run of frames under the Confidence panel's threshold (its chosen "
       "score: the frame's lowest keypoint, a person, or a keypoint)"),
    _a("prev_low", "Previous Low-Confidence Frame", "Shift+J", "&Navigate",
       "Jump to the previous run of frames under the Confidence panel's threshold"),
    _a("speed_up", "Faster Playback", "]", "&Navigate",
       "The next faster speed (… 1× → 1.5× → 2× → 4× …)"),
    _a("speed_down", "Slower Playback", "[", "&Navigate",
       "The next slower speed (… 2× → 1.5× → 1× → 0.5× …)"),
    _a("next_suggestion", "Next &Suggestion", "H", "&Navigate",
       "Jump to the next suggested frame not marked done (on to the next video at the end)"),
    _a("prev_suggestion", "Previous Suggestion", "Shift+H", "&Navigate",
       "Jump to the previous suggested frame not marked done"),
    _a("suggestion_done", "Mark Suggestion &Done", "Ctrl+D", "&Navigate",
       "Mark (or unmark) this frame's suggestion done (kept in the project)"),
    _a("find_suggestions", "Find &Frames to Check…", "Ctrl+Shift+G", "&Navigate",
       "Fill the Suggestions panel: uniform, diverse, low confidence, jumps, swaps, "
       "identity switches"),
    _a("next_video", "Next Video", "Ctrl+PgDown", "&Navigate", "Show the next video in the project"),
    _a("prev_video", "Previous Video", "Ctrl+PgUp", "&Navigate",
       "Show the previous video in the project"),
    # Model
    _a("predict_frame", "&Predict This Frame", "P", "&Model",
       "Run the loaded model on the current frame and store its predictions"),
    _a("snap_peak", "&Snap Keypoint to Heatmap Peak", "S", "&Model",
       "Move the selected keypoint to the model's strongest peak; again: the next peak"),
    _a("train", "&Train From Labels…", "Ctrl+T", "&Model",
       "Fine-tune a model on this project's labels (runs in a separate process)"),
    _a("get_model", "&Get a Model…", "", "&Model",
       "Download a published model (RTMPose, RTMO, RTMW, detectors…) with its license shown"),
    _a("toggle_ab", "Second Run (&B) On/Off", "B", "&Model",
       "Show or hide a second model run (B) beside the shown one (A), in a second colour"),
    _a("swap_ab", "S&wap Runs A and B", "Shift+B", "&Model",
       "Show B as A and A as B (the keys act on A)"),
    _a("compare_runs", "&Compare Runs A and B…", "", "&Model",
       "Did the newer model get better, and where: OKS AP against your labels, per keypoint, "
       "the frames that changed most"),
    # Help
    _a("shortcuts", "&Keyboard Shortcuts", ("F1", "?"), "&Help", "List every shortcut"),
    _a("about", "&About Pose Studio", "", "&Help", "Version and credits"),
)

ACTIONS_BY_ID: dict[str, ActionSpec] = {a.id: a for a in ACTIONS}

#: Mouse gestures of the frame view and timeline, ``(gesture, what it does)``, for the help.
MOUSE_GESTURES: tuple[tuple[str, str], ...] = (
    ("Click keypoint", "Select it (arrows then nudge it; V cycles its visibility)"),
    ("Drag keypoint", "Move it (one undo step; a prediction becomes a label)"),
    ("Shift + drag", "Move the whole instance (Alt + drag too, where the desktop allows it; "
                     "or Edit ▸ Move Whole Instance, M)"),
    ("Right-click keypoint", "Cycle visibility: visible → occluded → unlabeled"),
    ("Double-click prediction", "Accept it as a label"),
    ("Hover keypoint", "Name, kind, visibility and score (status bar)"),
    ("Wheel", "Zoom at the cursor"),
    ("Drag empty space / middle drag", "Pan"),
    ("Click / drag timeline", "Seek; long-GOP video shows a marked keyframe preview "
                              "until release"),
    ("Click confidence plot", "Seek to that frame"),
)


def shortcut_table() -> list[tuple[str, str, str]]:
    """``(menu, action, keys)`` rows for the help dialog, keys as native text."""
    rows = []
    for spec in ACTIONS:
        keys = ", ".join(
            QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in spec.shortcuts
        )
        rows.append((spec.menu.replace("&", ""), spec.label, keys))
    return rows


def find_clashes() -> list[tuple[str, str, str]]:
    """``(keys, action_a, action_b)`` for any sequence bound twice (should be empty)."""
    seen: dict[str, str] = {}
    out = []
    for spec in ACTIONS:
        for k in spec.shortcuts:
            norm = QKeySequence(k).toString(QKeySequence.SequenceFormat.PortableText)
            if norm in seen:
                out.append((norm, seen[norm], spec.id))
            else:
                seen[norm] = spec.id
    return out


def build_actions(parent: QObject, handlers: Mapping[str, Callable[..., object]]) -> dict[str, QAction]:
    """Make a ``QAction`` per spec; connect ``triggered``/``toggled`` to ``handlers[id]`` if given.

    Toggles are connected through ``toggled(bool)``; the rest through ``triggered()``.
    """
    out: dict[str, QAction] = {}
    for spec in ACTIONS:
        act = QAction(spec.text, parent)
        act.setObjectName(f"action_{spec.id}")
        if spec.shortcuts:
            act.setShortcuts([QKeySequence(k) for k in spec.shortcuts])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setStatusTip(spec.tip)
        act.setToolTip(spec.tip)
        if spec.checkable:
            act.setCheckable(True)
            act.setChecked(spec.checked)
        handler = handlers.get(spec.id)
        if handler is not None:
            if spec.checkable:
                act.toggled.connect(handler)
            else:
                act.triggered.connect(lambda _checked=False, h=handler: h())
        out[spec.id] = act
    return out
