"""Graphics items for one instance: a keypoint item per point and a line per limb.

Keypoints are separate items that ignore the view's zoom (constant size on screen), so moving one
repaints a few pixels and never the frame. The items only draw: mouse events on a keypoint go to
the item's :class:`ItemHost` (the frame view), whose gesture tools (``gui/tools``) preview through
:meth:`InstanceItem.preview_keypoint` / :meth:`InstanceItem.preview_offset` and report ONE intent
on release.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsLineItem,
    QGraphicsRectItem,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from pose_studio.core.annotation import Instance, Visibility
from pose_studio.core.skeleton import SIDE_COLORS, Skeleton

from .options import OverlayOptions
from .track_colors import track_color


class ItemHost(Protocol):
    """Where a keypoint item sends its mouse events (the frame view implements it)."""

    def item_press(self, item: InstanceItem, k: int, event: QGraphicsSceneMouseEvent) -> None: ...
    def item_move(self, item: InstanceItem, k: int, event: QGraphicsSceneMouseEvent) -> None: ...
    def item_release(self, item: InstanceItem, k: int,
                     event: QGraphicsSceneMouseEvent) -> None: ...
    def item_double_click(self, item: InstanceItem, k: int) -> None: ...
    def item_hover(self, item: InstanceItem, k: int) -> None: ...


USER_RADIUS = 5.0  # the defaults of OverlayOptions.point_radius (a label) and 0.7 of it
PRED_RADIUS = 3.5
PRED_SCALE = 0.7  # a prediction's keypoints and limbs are drawn smaller than a label's
PRED_LINE_SCALE = 0.75
PRED_OPACITY = 0.8
MIN_SCORE_ALPHA = 0.3  # opacity of a predicted keypoint scoring 0 (relative to PRED_OPACITY)
LOW_RGB = (235, 40, 40)  # outline of a predicted keypoint under the low-confidence threshold


@dataclass(frozen=True)
class Tint:
    """How a model run's predictions are drawn while two runs are shown (A/B): one colour,
    the keypoints' radius and the limbs' pen. The first run gets bigger dots and solid limbs,
    the second smaller dots and dashes on top, so both show where they agree; both are drawn
    above the labels, inside their points."""

    rgb: tuple[int, int, int]
    radius: float = PRED_RADIUS
    dashed: bool = True


def _qcolor(rgb: Sequence[int], alpha: int = 255) -> QColor:
    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]), alpha)


class KeypointItem(QGraphicsEllipseItem):
    """One keypoint: filled when visible, hollow when occluded, red-rimmed when its score is low."""

    def __init__(self, owner: InstanceItem, k: int, radius: float) -> None:
        super().__init__(QRectF(-radius, -radius, 2 * radius, 2 * radius), owner)
        # No Python reference back to the owner: PySide keeps parent -> child wrapper links the
        # garbage collector cannot see, so a child -> parent attribute would leak every item.
        self.k = k
        self.radius = radius
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setAcceptHoverEvents(True)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setZValue(2)

    @property
    def owner(self) -> InstanceItem:
        parent = self.parentItem()
        assert isinstance(parent, InstanceItem)
        return parent

    def style(self, color: QColor, visibility: int, predicted: bool, selected: bool,
              low: bool = False) -> None:
        outline = QColor(20, 20, 20) if not selected else QColor(255, 255, 255)
        if visibility == Visibility.OCCLUDED:
            pen = QPen(color, 2.0)
            brush = QBrush(Qt.BrushStyle.NoBrush)
        else:
            pen = QPen(outline, 1.5 if selected else 1.0)
            brush = QBrush(color)
        if low:
            pen = QPen(_qcolor(LOW_RGB), 2.5)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setBrush(brush)
        r = self.radius * (1.5 if selected else 1.0) + (1.5 if low else 0.0)
        self.setRect(QRectF(-r, -r, 2 * r, 2 * r))

    # --- mouse: everything goes to the host (the view and its gesture tools) ------------------
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.owner.host.item_press(self.owner, self.k, event)
        event.accept()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.owner.host.item_move(self.owner, self.k, event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.owner.host.item_release(self.owner, self.k, event)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.owner.host.item_double_click(self.owner, self.k)
        event.accept()

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.owner.host.item_hover(self.owner, self.k)
        super().hoverEnterEvent(event)


class _NameItem(QGraphicsSimpleTextItem):
    """A keypoint name on a translucent dark plate (readable on any background)."""

    def boundingRect(self) -> QRectF:
        return super().boundingRect().adjusted(-2, -1, 2, 1)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 140))
        painter.drawRoundedRect(self.boundingRect(), 3, 3)
        super().paint(painter, option, widget)  # type: ignore[arg-type]


class InstanceItem(QGraphicsItem):
    """An instance: limbs, keypoints and (optionally) names. Has no painting of its own.

    ``tint``: one colour for every limb and keypoint, and its sizes (a model run's, while two
    runs are shown, A/B); None: the skeleton's colours. ``passive``: drawn only (the second run's
    predictions: the keys and the mouse act on the shown run), clicks go to the frame.
    """

    def __init__(
        self,
        host: ItemHost,
        skeleton: Skeleton,
        inst: Instance,
        options: OverlayOptions,
        *,
        selected: bool = False,
        selected_keypoint: int | None = None,
        tint: Tint | None = None,
        passive: bool = False,
    ) -> None:
        super().__init__()
        self.host = host
        self.tint = tint
        self.passive = passive
        self.skeleton = skeleton
        self.instance = inst
        self.instance_id: int = -1 if inst.id is None else int(inst.id)
        self.predicted = inst.is_prediction
        self.options = options
        self.selected = selected
        self._xy = np.array(inst.xy, dtype=np.float64)
        self.keypoints: list[KeypointItem] = []
        self.limbs: list[tuple[QGraphicsLineItem, int, int]] = []
        self.labels: list[QGraphicsSimpleTextItem] = []
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        # Two runs shown (A/B): their predictions above the labels (smaller than a label's
        # point, so each shows as a ring around them), B above A.
        if tint is None:
            self.setZValue(5 if self.predicted else 10)
        else:
            self.setZValue(12 if tint.dashed else 11)
        # The selected instance gets a dashed box around its keypoints: which person the keys
        # act on is visible at a glance, even in a crowd.
        self.sel_box = QGraphicsRectItem(self)
        pen = QPen(QColor(255, 230, 90), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.sel_box.setPen(pen)
        self.sel_box.setBrush(Qt.BrushStyle.NoBrush)
        self.sel_box.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.sel_box.setZValue(0)
        self.sel_box.setVisible(False)
        self.sel_box.setData(0, "decoration")  # clicks on it count as clicks on the frame
        if self.predicted:
            self.setOpacity(PRED_OPACITY)
        self._build(selected_keypoint)

    def boundingRect(self) -> QRectF:
        return QRectF()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        return

    def _build(self, selected_keypoint: int | None) -> None:
        sk, inst, opt = self.skeleton, self.instance, self.options
        vis = inst.visibility
        k_count = min(sk.num_keypoints, inst.num_keypoints)
        if opt.skeleton:
            for a, b in sk.edges:
                if a >= k_count or b >= k_count:
                    continue
                color = self._limb_color(a, b)
                pen = QPen(color, self._limb_width())
                pen.setCosmetic(True)
                if self.predicted and (self.tint is None or self.tint.dashed):
                    pen.setStyle(Qt.PenStyle.DashLine)
                if self.selected:
                    pen.setWidthF(pen.widthF() + 1.0)
                line = QGraphicsLineItem(self)
                line.setPen(pen)
                line.setZValue(1)
                line.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                self.limbs.append((line, a, b))
        radius = self.tint.radius if self.tint else \
            self.options.point_radius * (PRED_SCALE if self.predicted else 1.0)
        low = self._low_mask()
        for k in range(k_count):
            kp = KeypointItem(self, k, radius)
            if self.passive:
                kp.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                kp.setCursor(Qt.CursorShape.ArrowCursor)
            kp.style(self._colour(k), int(vis[k]), self.predicted, k == selected_keypoint,
                     bool(low[k]))
            kp.setVisible(opt.keypoints)
            self.keypoints.append(kp)
            if opt.labels:
                t = _NameItem(sk.keypoints[k], self)
                t.setTransform(QTransform.fromTranslate(6, -6))
                t.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
                f = QFont()
                f.setPointSizeF(7.5)
                t.setFont(f)
                t.setBrush(QBrush(QColor(255, 255, 255)))
                t.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
                t.setZValue(3)
                self.labels.append(t)
            else:
                self.labels.append(None)  # type: ignore[arg-type]
        self._sync()

    def _limb_color(self, a: int, b: int) -> QColor:
        """The track's colour when colouring by track, else the limb's side colour."""
        if self.tint is not None:
            return _qcolor(self.tint.rgb)
        tid = self.instance.track_id
        if self.options.color_by_track and tid is not None:
            return _qcolor(track_color(tid))
        side = self.skeleton.edge_side((a, b))
        return _qcolor(SIDE_COLORS.get(side, (200, 200, 200)))

    def _colour(self, k: int) -> QColor:
        return _qcolor(self.tint.rgb if self.tint else self.skeleton.colors[k])

    def _limb_width(self) -> float:
        if self.tint is not None and not self.tint.dashed:  # run A of an A/B pair: solid, full
            return self.options.line_width
        return self.options.line_width * (PRED_LINE_SCALE if self.predicted else 1.0)

    def _confidence_alpha(self) -> np.ndarray:
        """Per-keypoint opacity: predictions fade with their keypoint score (1 for labels)."""
        scores = self.instance.kp_scores
        n = len(self._xy)
        if not self.predicted or scores is None:
            return np.ones(n)
        return MIN_SCORE_ALPHA + (1.0 - MIN_SCORE_ALPHA) * np.clip(
            np.nan_to_num(np.asarray(scores, np.float64), nan=0.0), 0.0, 1.0)

    def _low_mask(self) -> np.ndarray:
        """Predicted keypoints scoring under the review threshold (ringed in red)."""
        scores, thr = self.instance.kp_scores, self.options.low_score
        n = self.instance.num_keypoints
        if not self.predicted or scores is None or thr is None:
            return np.zeros(n, bool)
        with np.errstate(invalid="ignore"):
            return (np.asarray(scores, np.float64) < thr) & (self.instance.visibility > 0)

    def _sync(self) -> None:
        vis = self.instance.visibility
        # Predictions fade with their score, except the ones ringed as low: those must show.
        alpha = np.where(self._low_mask(), 1.0, self._confidence_alpha())
        for k, kp in enumerate(self.keypoints):
            x, y = self._xy[k]
            kp.setPos(QPointF(x, y))
            shown = bool(vis[k] > 0)
            kp.setVisible(shown and self.options.keypoints)
            kp.setOpacity(float(alpha[k]))
            kp.setToolTip(self.tooltip_text(k))
            lab = self.labels[k]
            if lab is not None:
                lab.setPos(QPointF(x, y))
                lab.setVisible(shown and self._names_shown())
        for line, a, b in self.limbs:
            ok = vis[a] > 0 and vis[b] > 0
            line.setVisible(bool(ok))
            if ok:
                line.setLine(self._xy[a, 0], self._xy[a, 1], self._xy[b, 0], self._xy[b, 1])
                line.setOpacity(float(min(alpha[a], alpha[b])))
        self._sync_box()

    def _sync_box(self) -> None:
        lab = self.instance.visibility[: len(self._xy)] > 0
        if not self.selected or not lab.any():
            self.sel_box.setVisible(False)
            return
        pts = self._xy[lab]
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        pad = 0.08 * max(x1 - x0, y1 - y0, 20.0)
        self.sel_box.setRect(QRectF(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad))
        self.sel_box.setVisible(True)

    def tooltip_text(self, k: int) -> str:
        """Name, kind, visibility, score and position of keypoint ``k`` (rich text)."""
        inst = self.instance
        name = self.skeleton.keypoints[k] if k < self.skeleton.num_keypoints else f"#{k}"
        v = Visibility(int(inst.visibility[k]))
        what = "prediction" if self.predicted else "label"
        parts = [f"<b>{name}</b>", f"second run (B) {what}" if self.passive else what,
                 v.name.lower()]
        if inst.kp_scores is not None:
            parts.append(f"score {float(inst.kp_scores[k]):.2f}")
        x, y = self._xy[k]
        parts.append(f"({x:.1f}, {y:.1f})")
        return "<br>".join(parts)

    def set_instance(self, inst: Instance, selected: bool, selected_keypoint: int | None) -> None:
        """Show another instance of the same kind in place (no item churn while playing)."""
        recolor = inst.track_id != self.instance.track_id
        self.instance = inst
        self.instance_id = -1 if inst.id is None else int(inst.id)
        self._xy = np.array(inst.xy, dtype=np.float64)
        if recolor:
            for line, a, b in self.limbs:
                pen = line.pen()
                pen.setColor(self._limb_color(a, b))
                line.setPen(pen)
        self.setPos(QPointF(0, 0))
        self.restyle(selected, selected_keypoint)
        self._sync()

    def _names_shown(self) -> bool:
        """Names for labels always; for a prediction only while it is selected (less clutter)."""
        return self.selected or not self.predicted

    def restyle(self, selected: bool, selected_keypoint: int | None) -> None:
        """Show a new selection without rebuilding (safe during a drag)."""
        self.selected = selected
        vis = self.instance.visibility
        for k, lab in enumerate(self.labels):
            if lab is not None:
                lab.setVisible(bool(vis[k] > 0) and self._names_shown())
        low = self._low_mask()
        for k, kp in enumerate(self.keypoints):
            kp.style(
                self._colour(k), int(vis[k]), self.predicted,
                selected and k == selected_keypoint, bool(low[k]),
            )
        for line, _a, _b in self.limbs:
            pen = line.pen()
            pen.setWidthF(self._limb_width() + (1.0 if selected else 0.0))
            line.setPen(pen)
        self._sync_box()

    # --- drag previews (the gesture tools call these) -------------------------------------------
    def keypoint_pos(self, k: int) -> QPointF:
        """Where keypoint ``k`` is drawn now (image coordinates, preview included)."""
        return QPointF(float(self._xy[k, 0]), float(self._xy[k, 1]))

    def preview_keypoint(self, k: int, pos: QPointF) -> None:
        self._xy[k] = (pos.x(), pos.y())
        self.keypoints[k].setPos(pos)
        for line, a, b in self.limbs:
            if k in (a, b) and line.isVisible():
                line.setLine(self._xy[a, 0], self._xy[a, 1], self._xy[b, 0], self._xy[b, 1])
        lab = self.labels[k]
        if lab is not None:
            lab.setPos(pos)

    def preview_offset(self, d: QPointF) -> None:
        """Draw the whole instance moved by ``d`` (no store change)."""
        self.setPos(d)
