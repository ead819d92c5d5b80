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
MENUS: tuple[str, ...] = ("&File", "&Edit", "&View", "&Navigate", "&Model", "&Help")

ACTIONS: tuple[ActionSpec, ...] = (
    # File
    _a("open", "&Open Video or Project…", "Ctrl+O", "&File", "Open videos or a .posestudio project"),
    _a("new_project", "&New Project…", "Ctrl+N", "&File", "Create an empty project"),
    _a("add_video", "&Add Video to Project…", "Ctrl+Shift+O", "&File",
       "Add one or more videos to the open project"),
    _a("relink_video", "&Relink Video…", "", "&File", "Point the current video at a moved file"),
    _a("save_as", "Save Project &As…", "Ctrl+Shift+S", "&File",
       "Copy the project to a new file (edits are always saved as you make them)"),
    _a("export_coco", "&Export COCO…", "Ctrl+E", "&File", "Export labels as COCO keypoint JSON"),
    _a("import_coco", "&Import COCO…", "Ctrl+I", "&File", "Import COCO keypoint annotations"),
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
