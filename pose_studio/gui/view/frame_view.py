"""The frame view: the video frame, instance overlays and the heatmap, with zoom and pan.

* Wheel zooms at the cursor; dragging empty space (or the middle button) pans; ``fit()`` fits.
* Scene coordinates are image coordinates with pixel centres at integers (the pixmap's corner
  sits at (-0.5, -0.5)), the convention of :class:`~pose_studio.core.annotation.Instance`.
* Frames arrive as read-only BGR arrays from the decode worker; they are wrapped in a ``QImage``
  (``Format_BGR888``, no copy) and turned into a ``QPixmap`` here, in the GUI thread.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
    QWidget,
)

from pose_studio.core.annotation import Instance
from pose_studio.core.skeleton import Skeleton

from ..tools import MoveInstance, pick_tool
from ..tools.base import InstanceDropped, KeypointDropped, Tool
from . import adjust
from .heatmap_item import HeatmapItem
from .options import OverlayOptions
from .skeleton_item import InstanceItem, Tint

ZOOM_STEP = 1.25
MIN_SCALE = 0.02
MAX_SCALE = 64.0


def frame_to_qimage(frame: np.ndarray) -> QImage:
    """Wrap an ``(H, W, 3)`` BGR (or ``(H, W)`` grey) uint8 array without copying.

    The caller keeps ``frame`` alive while the QImage is used.
    """
    if frame.ndim == 2:
        h, w = frame.shape
        return QImage(frame.data, w, h, int(frame.strides[0]), QImage.Format.Format_Grayscale8)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {frame.shape} {frame.dtype}")
    if frame.strides[1] != frame.shape[2] or frame.strides[2] != 1:
        frame = np.ascontiguousarray(frame)
    h, w = frame.shape[:2]
    fmt = QImage.Format.Format_BGR888 if frame.shape[2] == 3 else QImage.Format.Format_RGB32
    return QImage(frame.data, w, h, int(frame.strides[0]), fmt)


class FrameView(QGraphicsView):
    """Shows one frame and its instances; reports gestures as signals (the window makes edits).

    Mouse presses on a keypoint go to a gesture tool (:func:`~pose_studio.gui.tools.pick_tool`)
    that previews the drag on the items and reports one intent on release.

    Signals:
        keypoint_moved(int, int, float, float): instance id, keypoint, new x, y (drag released).
        instance_moved(int, float, float): instance id, dx, dy (Shift/Alt-drag released).
        visibility_requested(int, int): right-click on a keypoint.
        instance_double_clicked(int): double-click (accept a prediction).
        place_requested(float, float, bool): a click in click-to-place mode (x, y, occluded).
        selection_requested(int, int): instance id (-1: none), keypoint (-1: none).
        zoom_changed(float): view scale.
    """

    keypoint_moved = Signal(int, int, float, float)
    instance_moved = Signal(int, float, float)
    visibility_requested = Signal(int, int)
    instance_double_clicked = Signal(int)
    selection_requested = Signal(int, int)
    zoom_changed = Signal(float)
    hovered = Signal(str)  # plain "name · prediction · visible · score 0.91" of the keypoint
    place_requested = Signal(float, float, bool)  # click-to-place: x, y, occluded (Shift)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("frame_view")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setBackgroundBrush(QBrush(QColor(24, 24, 28)))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setMouseTracking(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the window takes drops
        self.setAttribute(Qt.WidgetAttribute.WA_AlwaysShowToolTips)

        self.pixmap_item = QGraphicsPixmapItem()
        self.pixmap_item.setOffset(-0.5, -0.5)
        self.pixmap_item.setZValue(0)
        self.pixmap_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._scene.addItem(self.pixmap_item)
        self.heatmap_items: list[HeatmapItem] = []
        self.heatmap_opacity = 0.6
        self.message_item = QGraphicsSimpleTextItem()
        self.message_item.setBrush(QBrush(QColor(200, 200, 200)))
        self._scene.addItem(self.message_item)

        self.options = OverlayOptions()
        # several annotators: show only the labels this one edited last ("": everyone's)
        self.annotator = ""
        self.skeleton: Skeleton | None = None
        self.instance_items: list[InstanceItem] = []
        self._items_key: object = None
        self.frame_idx: int | None = None  # frame whose pixels are shown
        self.frame: np.ndarray | None = None
        self._image_size: tuple[int, int] | None = None
        self._auto_fit = True
        self._tool: Tool | None = None
        self.move_mode = False  # a plain drag moves the whole instance (Edit menu toggle)
        self.place_mode = False  # click-to-place labeling (a click places a keypoint)
        self.lut: np.ndarray | None = None  # brightness/contrast/gamma of the picture shown
        self._selected: tuple[int | None, int | None] = (None, None)
        self._last_scene_pos: QPointF | None = None
        self.fast = False  # FastTransformation while playing
        # "Approximate" marker: a scrub preview (keyframe) is shown instead of the frame.
        self.approximate = False
        # The picture shown is another frame's (an image set's next image is on its way).
        self.waiting = False
        self.preview_label = QLabel(self.viewport())
        self.preview_label.setObjectName("preview_label")
        self.preview_label.setStyleSheet(
            "QLabel { background: rgba(255, 196, 0, 230); color: black; font-weight: bold;"
            " padding: 4px 8px; border-radius: 3px; }"
        )
        self.preview_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.preview_label.hide()

    # --- frame -----------------------------------------------------------------------------------
    def set_frame(self, frame: np.ndarray, frame_idx: int) -> None:
        """Show ``frame`` (read-only array from the decoder) as frame ``frame_idx``, through
        the brightness/contrast/gamma table when one is set (the array itself is kept as is)."""
        img = frame_to_qimage(adjust.apply(frame, self.lut))
        pix = QPixmap.fromImage(img)
        del img
        self.pixmap_item.setPixmap(pix)
        self.pixmap_item.setTransformationMode(
            Qt.TransformationMode.FastTransformation
            if self.fast
            else Qt.TransformationMode.SmoothTransformation
        )
        self.frame = frame
        self.frame_idx = frame_idx
        self.message_item.setVisible(False)
        size = (pix.width(), pix.height())
        if size != self._image_size:
            self._image_size = size
            self._scene.setSceneRect(QRectF(-0.5, -0.5, size[0], size[1]).adjusted(-2000, -2000, 2000, 2000))
            self._auto_fit = True
        if self._auto_fit:
            self.fit()

    def set_lut(self, lut: np.ndarray | None) -> None:
        """Show the picture through ``lut`` (:mod:`.adjust`; None: as decoded)."""
        self.lut = lut
        if self.frame is not None and self.frame_idx is not None:
            auto, self._auto_fit = self._auto_fit, False
            self.set_frame(self.frame, self.frame_idx)
            self._auto_fit = auto

    def set_place_mode(self, on: bool) -> None:
        """Click-to-place: a left click anywhere on the picture asks to place a keypoint
        (``place_requested``) instead of selecting or panning (the middle button still pans)."""
        self.place_mode = bool(on)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor if on else
                                  Qt.CursorShape.OpenHandCursor)

    def set_approximate(self, text: str | None) -> None:
        """Mark the shown picture as a preview (``text``) or as the exact frame (None).

        While a preview is shown the overlays are hidden: they belong to another frame, and
        nothing may be annotated on a picture that is not the frame being labeled.
        """
        self.approximate = text is not None
        if text is None:
            self.preview_label.hide()
        else:
            self.preview_label.setText(text)
            self.preview_label.adjustSize()
            self.preview_label.move(8, 8)
            self.preview_label.show()
            self.preview_label.raise_()
        self._apply_overlay_visibility()

    def set_waiting(self, waiting: bool) -> None:
        """The picture shown is not the current frame's (its own is being read): overlays are
        hidden until it is, so no label is ever drawn on (or edited over) another picture."""
        if waiting != self.waiting:
            self.waiting = waiting
            self._apply_overlay_visibility()

    def _apply_overlay_visibility(self) -> None:
        hide = self.approximate or self.waiting
        for item in self.instance_items:
            item.setVisible(not hide)
        for hm in self.heatmap_items:
            hm.setVisible(self.options.heatmap and not hide)

    def clear_frame(self, message: str = "") -> None:
        self.pixmap_item.setPixmap(QPixmap())
        self.set_heatmaps([])
        self.frame = None
        self.frame_idx = None
        self._image_size = None
        self.waiting = False
        self.set_approximate(None)
        self.set_instances(None, [])
        self.show_message(message)

    def show_message(self, message: str) -> None:
        self.message_item.setText(message)
        self.message_item.setVisible(bool(message))
        if message and self.frame is None:
            r = self.message_item.boundingRect()
            self._scene.setSceneRect(r.adjusted(-20, -20, 20, 20))
            self.message_item.setPos(0, 0)
            self.resetTransform()
            self.centerOn(r.center())

    def image_rect(self) -> QRectF:
        if self._image_size is None:
            return QRectF()
        return QRectF(-0.5, -0.5, self._image_size[0], self._image_size[1])

    # --- zoom / pan ------------------------------------------------------------------------------
    def fit(self) -> None:
        rect = self.image_rect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._auto_fit = True
        self.zoom_changed.emit(self.scale_factor())

    def scale_factor(self) -> float:
        return float(self.transform().m11())

    def zoom(self, factor: float, anchor_view_pos: QPointF | None = None) -> None:
        """Zoom by ``factor`` keeping the scene point under ``anchor_view_pos`` fixed."""
        s = self.scale_factor()
        factor = max(MIN_SCALE / s, min(MAX_SCALE / s, factor))
        if anchor_view_pos is None:
            anchor_view_pos = QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor_view_pos.toPoint())
        old_anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        after = self.mapToScene(anchor_view_pos.toPoint())
        d = after - before
        self.translate(d.x(), d.y())
        self.setTransformationAnchor(old_anchor)
        self._auto_fit = False
        self.zoom_changed.emit(self.scale_factor())

    def wheelEvent(self, event: QWheelEvent) -> None:
        dy = event.angleDelta().y()
        if dy == 0:
            event.ignore()
            return
        self.zoom(ZOOM_STEP ** (dy / 120.0), event.position())
        event.accept()

    def resizeEvent(self, event: object) -> None:  # type: ignore[override]
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self._auto_fit:
            self.fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            # Pan with the middle button too: replay it as a left press for ScrollHandDrag.
            fake = QMouseEvent(
                event.type(), event.position(), event.globalPosition(),
                Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, event.modifiers(),
            )
            super().mousePressEvent(fake)
            return
        if self.place_mode and event.button() == Qt.MouseButton.LeftButton:
            p = self.mapToScene(event.position().toPoint())
            if self.image_rect().contains(p) and not self.approximate:
                occluded = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                self.place_requested.emit(p.x(), p.y(), occluded)
            event.accept()
            return
        item = self.itemAt(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and (
            item is None or item is self.pixmap_item or isinstance(item, HeatmapItem)
            or item.data(0) == "decoration"
        ):
            self.selection_requested.emit(-1, -1)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._last_scene_pos = self.mapToScene(event.position().toPoint())
        if event.buttons() & Qt.MouseButton.MiddleButton:
            fake = QMouseEvent(
                event.type(), event.position(), event.globalPosition(),
                Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, event.modifiers(),
            )
            super().mouseMoveEvent(fake)
            return
        super().mouseMoveEvent(event)
        if event.buttons() & Qt.MouseButton.LeftButton and self.dragMode() == self.DragMode.ScrollHandDrag:
            self._auto_fit = False

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton:
            fake = QMouseEvent(
                event.type(), event.position(), event.globalPosition(),
                Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, event.modifiers(),
            )
            super().mouseReleaseEvent(fake)
            return
        super().mouseReleaseEvent(event)

    def cursor_image_pos(self) -> tuple[float, float] | None:
        """The last mouse position in image coordinates, if the mouse is over the image."""
        p = self._last_scene_pos
        if p is None:
            under = self.viewport().mapFromGlobal(self.cursor().pos())
            if not self.viewport().rect().contains(under):
                return None
            p = self.mapToScene(under)
        if not self.image_rect().contains(p):
            return None
        return (p.x(), p.y())

    def leaveEvent(self, event: object) -> None:  # type: ignore[override]
        self._last_scene_pos = None
        super().leaveEvent(event)  # type: ignore[arg-type]

    # --- overlays --------------------------------------------------------------------------------
    def set_options(self, options: OverlayOptions) -> None:
        self.options = options
        for item in self.heatmap_items:
            item.setVisible(options.heatmap and not self.approximate)

    def set_instances(
        self,
        skeleton: Skeleton | None,
        instances: Sequence[Instance],
        selected: tuple[int | None, int | None] = (None, None),
        tints: Mapping[int, Tint] | None = None,
        passive: Collection[int] = (),
    ) -> None:
        """Show these instances (items of the same kind are reused, so playing a video does not
        create and destroy scene items every frame). ``tints``: instance id -> how its run is
        drawn while two runs are shown; ``passive``: ids drawn only (the second run's
        predictions)."""
        sel_inst, sel_kp = selected
        tints = tints or {}
        shown = [] if skeleton is None else [
            i for i in instances if (self.options.predictions or not i.is_prediction)
            and (not self.annotator or i.is_prediction or i.edited_by == self.annotator)
        ]
        key = (skeleton, dataclasses.astuple(self.options), self.annotator)
        reuse = key == self._items_key and [
            (it.predicted, it.tint, it.passive) for it in self.instance_items
        ] == [(i.is_prediction, tints.get(-1 if i.id is None else i.id), i.id in passive)
              for i in shown]
        self.skeleton = skeleton
        self._selected = selected
        if reuse:
            for item, inst in zip(self.instance_items, shown):
                is_sel = inst.id is not None and inst.id == sel_inst
                item.set_instance(inst, is_sel, sel_kp if is_sel else None)
            return
        for item in self.instance_items:
            self._scene.removeItem(item)
        self.instance_items = []
        self._items_key = key
        if skeleton is None:
            return
        for inst in shown:
            is_sel = inst.id is not None and inst.id == sel_inst
            item = InstanceItem(
                self, skeleton, inst, self.options, selected=is_sel,
                selected_keypoint=sel_kp if is_sel else None,
                tint=tints.get(-1 if inst.id is None else inst.id), passive=inst.id in passive,
            )
            self._scene.addItem(item)
            self.instance_items.append(item)
        if self.approximate or self.waiting:
            self._apply_overlay_visibility()

    def update_selection(self, selected: tuple[int | None, int | None]) -> None:
        self._selected = selected
        sel_inst, sel_kp = selected
        for item in self.instance_items:
            is_sel = sel_inst is not None and item.instance_id == sel_inst
            item.restyle(is_sel, sel_kp if is_sel else None)

    def item_for(self, instance_id: int) -> InstanceItem | None:
        for item in self.instance_items:
            if item.instance_id == instance_id:
                return item
        return None

    @property
    def dragging(self) -> bool:
        """A gesture is in progress (refreshes wait for it to end)."""
        return self._tool is not None

    # --- ItemHost: mouse events of keypoint items --------------------------------------------
    def item_press(self, item: InstanceItem, k: int, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.selection_requested.emit(item.instance_id, k)
            self.visibility_requested.emit(item.instance_id, k)
            return
        if self._tool is not None:
            return
        tool = pick_tool(item, k, event.scenePos(), event.button(), event.modifiers(),
                         self.move_mode)
        whole = isinstance(tool, MoveInstance)
        # Selecting first restyles the item in place (never rebuilds it under the mouse).
        self.selection_requested.emit(item.instance_id, -1 if whole else k)
        self._tool = tool

    def item_move(self, item: InstanceItem, k: int, event: QGraphicsSceneMouseEvent) -> None:
        if self._tool is not None:
            self._tool.move(event.scenePos())

    def item_release(self, item: InstanceItem, k: int, event: QGraphicsSceneMouseEvent) -> None:
        tool, self._tool = self._tool, None
        if tool is None:
            return
        intent = tool.release(event.scenePos())
        if isinstance(intent, KeypointDropped):
            self.keypoint_moved.emit(intent.instance_id, intent.keypoint, intent.x, intent.y)
        elif isinstance(intent, InstanceDropped):
            self.instance_moved.emit(intent.instance_id, intent.dx, intent.dy)

    def item_double_click(self, item: InstanceItem, k: int) -> None:
        self.instance_double_clicked.emit(item.instance_id)

    def item_hover(self, item: InstanceItem, k: int) -> None:
        """Name and score of the keypoint under the mouse, for the status bar (tooltips need an
        active window; this works always)."""
        text = re.sub(r"<[^>]+>", "", item.tooltip_text(k).replace("<br>", " · "))
        self.hovered.emit(text)

    def cancel_gesture(self) -> None:
        """Drop a drag in progress (e.g. the frame changed under it)."""
        tool, self._tool = self._tool, None
        if tool is not None:
            tool.cancel()

    def set_heatmaps(self, maps: Sequence[tuple[np.ndarray, np.ndarray | None]]) -> None:
        """Show ``(map, map_to_image_affine)`` pairs (one per predicted instance); [] clears."""
        while len(self.heatmap_items) < len(maps):
            item = HeatmapItem()
            item.opacity_value = self.heatmap_opacity
            self._scene.addItem(item)
            self.heatmap_items.append(item)
        for i, item in enumerate(self.heatmap_items):
            if i < len(maps):
                item.opacity_value = self.heatmap_opacity
                item.set_heatmap(*maps[i])
                item.setVisible(self.options.heatmap and not self.approximate)
            else:
                item.clear()
                item.setVisible(False)

    def has_heatmap(self) -> bool:
        return any(not it.pixmap().isNull() for it in self.heatmap_items)

    def map_image_to_view(self, x: float, y: float) -> QPointF:
        """Viewport coordinates of image point ``(x, y)`` (for tests and tools)."""
        return QPointF(self.mapFromScene(QPointF(x, y)))
