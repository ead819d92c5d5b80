"""Rendering people into images with exact COCO-17 ground truth.

Every body part is painted in depth order (painter's algorithm) into the image and into a
part-id buffer. A keypoint's visibility is read from that buffer: 2 when the pixel under it
belongs to one of its own parts (and, for face points, the face turns towards the camera),
1 when something nearer covers it (another part, person or object, or the back of the head),
0 when it falls outside the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from pose_studio.core.annotation import Instance
from pose_studio.synth import body as B
from pose_studio.synth import scene as S

# Part indices within one person.
PARTS: tuple[str, ...] = (
    "torso", "pelvis", "neck", "head",
    "l_upper_arm", "l_forearm", "l_hand", "r_upper_arm", "r_forearm", "r_hand",
    "l_thigh", "l_shank", "l_foot", "r_thigh", "r_shank", "r_foot",
)  # fmt: skip
PART = {n: i for i, n in enumerate(PARTS)}
PARTS_PER_PERSON = 32
OCCLUDER_ID = -1

#: Parts a keypoint belongs to: the keypoint is visible when one of them is on top.
OWNERS: tuple[frozenset[int], ...] = tuple(
    frozenset(PART[p] for p in names)
    for names in (
        ("head",), ("head",), ("head",), ("head",), ("head",),
        ("torso", "neck", "l_upper_arm"), ("torso", "neck", "r_upper_arm"),
        ("l_upper_arm", "l_forearm"), ("r_upper_arm", "r_forearm"),
        ("l_forearm", "l_hand"), ("r_forearm", "r_hand"),
        ("torso", "pelvis", "l_thigh"), ("torso", "pelvis", "r_thigh"),
        ("l_thigh", "l_shank"), ("r_thigh", "r_shank"),
        ("l_shank", "l_foot"), ("r_shank", "r_foot"),
    )
)  # fmt: skip
#: Minimum cosine between a face point's outward normal and the direction to the camera.
FACE_FACING = (0.1, 0.1, 0.1, -0.3, -0.3)

STYLES = ("default", "cartoon")


@dataclass(frozen=True)
class Look:
    """A person's appearance: skin, hair and clothing textures (BGR tiles)."""

    skin: np.ndarray
    hair: np.ndarray | None
    hair_long: bool
    shirt: np.ndarray
    pants: np.ndarray
    shoes: np.ndarray
    long_sleeves: bool
    long_pants: bool
    outline: bool
    print_color: np.ndarray = field(default_factory=lambda: np.array([240.0, 240.0, 240.0], np.float32))
    buckle_color: np.ndarray = field(default_factory=lambda: np.array([40.0, 200.0, 230.0], np.float32))
    print_w: float = 0.28  # half-width of the shirt print, fraction of the shoulder width
    print_h: float = 0.18  # half-height, fraction of the torso length


def sample_look(rng: np.random.Generator, style: str = "default") -> Look:
    cartoon = style == "cartoon"
    skin_c = S.random_color(rng, saturated=True) if cartoon and rng.random() < 0.5 else (
        S.skin_color(rng)
    )
    skin = np.broadcast_to(skin_c, (S.TILE, S.TILE, 3)).astype(np.float32)
    hair = None
    if rng.random() > 0.1:
        hc = S.random_color(rng, saturated=cartoon) if (cartoon or rng.random() < 0.2) else (
            np.array([20, 30, 45], np.float32) * rng.uniform(0.5, 4.0)
        )
        hair = S.texture_tile(rng, np.clip(hc, 0, 255), flat=True)
    return Look(
        skin=skin,
        hair=hair,
        hair_long=bool(rng.random() < 0.35),
        shirt=S.texture_tile(rng, S.random_color(rng, saturated=cartoon), saturated=cartoon,
                             flat=cartoon),
        pants=S.texture_tile(rng, S.random_color(rng, saturated=cartoon), saturated=cartoon,
                             flat=cartoon),
        shoes=S.texture_tile(rng, S.random_color(rng) * 0.5, flat=True),
        long_sleeves=bool(rng.random() < 0.5),
        long_pants=bool(rng.random() < 0.7),
        outline=cartoon,
        print_color=S.random_color(rng, saturated=True),
        buckle_color=S.random_color(rng, saturated=True),
        print_w=float(rng.uniform(0.15, 0.4)),
        print_h=float(rng.uniform(0.1, 0.3)),
    )


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    focal: float
    tilt: float  # radians, camera pitch

    def rotation(self) -> np.ndarray:
        # Body/world frame is y-up; camera frame is x right, y down, z forward.
        return B.rx(self.tilt) @ B.rx(np.pi)

    def project(self, p_cam: np.ndarray) -> np.ndarray:
        z = np.maximum(p_cam[..., 2:3], 1e-3)
        uv = p_cam[..., :2] / z * self.focal
        return uv + np.array([self.width / 2, self.height / 2])


@dataclass(frozen=True)
class PersonState:
    """One person on one frame: proportions, look, pose and pelvis position (camera frame)."""

    prop: B.Proportions
    look: Look
    pose: np.ndarray
    root_cam: np.ndarray  # (3,) pelvis in camera coordinates, metres


@dataclass(frozen=True)
class FrameGT:
    """Ground truth of one rendered frame (P people)."""

    keypoints: np.ndarray  # (P, 17, 2) float64 pixel coordinates (pixel centres at integers)
    visibility: np.ndarray  # (P, 17) uint8, 0 outside the frame, 1 hidden, 2 visible
    boxes: np.ndarray  # (P, 4) x, y, w, h of the visible silhouette (0 when fully hidden)
    areas: np.ndarray  # (P,) visible silhouette area in pixels
    depth: np.ndarray  # (P, 17) camera-frame depth of each keypoint (metres)

    def instances(self, *, min_area: float = 1.0) -> list[Instance]:
        """Core instances (user kind) for the people that are at least partly visible."""
        out = []
        for p in range(len(self.keypoints)):
            if self.areas[p] < min_area:
                continue
            out.append(
                Instance(
                    xy=self.keypoints[p],
                    visibility=self.visibility[p],
                    bbox=(float(self.boxes[p, 0]), float(self.boxes[p, 1]),
                          float(self.boxes[p, 2]), float(self.boxes[p, 3])),
                    track_id=None,
                )
            )
        return out


def _capsule(mask: np.ndarray, a: np.ndarray, b: np.ndarray, r: float, val: float) -> None:
    th = max(1, round(2 * r))
    p1 = (round(a[0]), round(a[1]))
    p2 = (round(b[0]), round(b[1]))
    cv2.line(mask, p1, p2, val, th, cv2.LINE_8)
    cv2.circle(mask, p1, max(1, round(r)), val, -1, cv2.LINE_8)
    cv2.circle(mask, p2, max(1, round(r)), val, -1, cv2.LINE_8)


class Canvas:
    """The image being painted plus its part-id buffer."""

    def __init__(self, img: np.ndarray) -> None:
        self.img = img.astype(np.float32, copy=True)
        h, w = img.shape[:2]
        self.ids = np.zeros((h, w), np.int32)
        self.h, self.w = h, w

    def paint(self, shade: np.ndarray, x0: int, y0: int, tile: np.ndarray, part_id: int) -> None:
        """Paints ``tile`` (tiled) modulated by ``shade`` (float map, 0 = not covered)."""
        sh, sw = shade.shape
        xa, ya = max(0, x0), max(0, y0)
        xb, yb = min(self.w, x0 + sw), min(self.h, y0 + sh)
        if xa >= xb or ya >= yb:
            return
        sub = shade[ya - y0 : yb - y0, xa - x0 : xb - x0]
        m = sub > 0
        if not m.any():
            return
        ty = np.arange(ya, yb) % S.TILE
        tx = np.arange(xa, xb) % S.TILE
        tex = tile[ty[:, None], tx[None, :]]
        region = self.img[ya:yb, xa:xb]
        region[m] = tex[m] * sub[m, None]
        self.ids[ya:yb, xa:xb][m] = part_id


def _draw_capsule_part(cv: Canvas, a: np.ndarray, b: np.ndarray, r: float, tile: np.ndarray,
                       pid: int, outline: bool) -> None:
    lo = np.floor(np.minimum(a, b) - r - 2).astype(int)
    hi = np.ceil(np.maximum(a, b) + r + 2).astype(int)
    if hi[0] < 0 or hi[1] < 0 or lo[0] >= cv.w or lo[1] >= cv.h:
        return
    shade = np.zeros((hi[1] - lo[1] + 1, hi[0] - lo[0] + 1), np.float32)
    aa, bb = a - lo, b - lo
    if outline:
        _capsule(shade, aa, bb, r, 0.08)
        _capsule(shade, aa, bb, max(r - max(1.5, r * 0.15), 0.5), 1.0)
    else:
        _capsule(shade, aa, bb, r, 0.72)
        _capsule(shade, aa, bb, r * 0.72, 0.88)
        _capsule(shade, aa, bb, r * 0.38, 1.0)
    cv.paint(shade, int(lo[0]), int(lo[1]), tile, pid)


def _draw_poly_part(cv: Canvas, pts: np.ndarray, tile: np.ndarray, pid: int, outline: bool,
                    extra: list[tuple[np.ndarray, np.ndarray, float]],
                    decals: list[tuple[np.ndarray, np.ndarray]] = ()) -> None:  # type: ignore[assignment]
    allp = np.concatenate([pts] + [np.stack([a, b]) for a, b, _ in extra])
    rmax = max([r for _, _, r in extra] + [0.0])
    lo = np.floor(allp.min(0) - rmax - 2).astype(int)
    hi = np.ceil(allp.max(0) + rmax + 2).astype(int)
    if hi[0] < 0 or hi[1] < 0 or lo[0] >= cv.w or lo[1] >= cv.h:
        return
    shade = np.zeros((hi[1] - lo[1] + 1, hi[0] - lo[0] + 1), np.float32)
    base = 0.08 if outline else 0.8
    cv2.fillConvexPoly(shade, np.round(pts - lo).astype(np.int32), base)
    for a, b, r in extra:
        _capsule(shade, a - lo, b - lo, r, base)
    inner = 1.0 if outline else 0.95
    if outline:
        er = cv2.erode((shade > 0).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
        shade[er > 0] = inner
    else:
        for a, b, r in extra:
            _capsule(shade, a - lo, b - lo, r * 0.6, inner)
    cv.paint(shade, int(lo[0]), int(lo[1]), tile, pid)
    # Front details (print, collar, buckle): painted inside this part only, same part id.
    for poly, colour in decals:
        dm = np.zeros_like(shade)
        cv2.fillConvexPoly(dm, np.round(poly - lo).astype(np.int32), 1.0)
        dm = np.where(shade > 0, dm * shade, 0.0).astype(np.float32)
        cv.paint(dm, int(lo[0]), int(lo[1]), np.broadcast_to(colour, (S.TILE, S.TILE, 3)), pid)


def _ellipse_shade(cv: Canvas, c: np.ndarray, axes: tuple[float, float], angle: float,
                   tile: np.ndarray, pid: int, outline: bool) -> None:
    r = max(axes) + 3
    lo = np.floor(c - r).astype(int)
    size = int(2 * r + 2)
    if lo[0] + size < 0 or lo[1] + size < 0 or lo[0] >= cv.w or lo[1] >= cv.h:
        return
    shade = np.zeros((size, size), np.float32)
    cc = (round(c[0] - lo[0]), round(c[1] - lo[1]))
    ax = (max(1, round(axes[0])), max(1, round(axes[1])))
    if outline:
        cv2.ellipse(shade, cc, ax, angle, 0, 360, 0.08, -1)
        ax2 = (max(1, ax[0] - 2), max(1, ax[1] - 2))
        cv2.ellipse(shade, cc, ax2, angle, 0, 360, 1.0, -1)
    else:
        cv2.ellipse(shade, cc, ax, angle, 0, 360, 0.8, -1)
        cv2.ellipse(shade, cc, (max(1, round(ax[0] * 0.7)), max(1, round(ax[1] * 0.75))),
                    angle, 0, 360, 0.95, -1)
    cv.paint(shade, int(lo[0]), int(lo[1]), tile, pid)


def _front_decals(person: PersonState, fk: B.BodyPose3D, cam: Camera, rot: np.ndarray
                  ) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, np.ndarray]]]:
    """Details on the front of the body (shirt print, collar, belt buckle) that tell front
    from back, as real clothes and bodies do; seen only when the torso faces the camera."""
    prop, look = person.prop, person.look
    h = prop.height
    assert fk.chest_rot is not None and fk.root_rot is not None
    pts = fk.points
    rc, rr = fk.chest_rot, fk.root_rot

    def proj(p3: np.ndarray) -> np.ndarray:
        return cam.project(p3 @ rot.T + person.root_cam)

    def facing(r: np.ndarray, at: np.ndarray) -> float:
        n_cam = rot @ (r @ np.array([0.0, 0.0, 1.0]))
        p = rot @ at + person.root_cam
        return float(n_cam @ (-p / max(np.linalg.norm(p), 1e-9)))

    chest: list[tuple[np.ndarray, np.ndarray]] = []
    pelvis: list[tuple[np.ndarray, np.ndarray]] = []
    rt = prop.radius("torso")
    neck = pts[B.NECK]
    centre = 0.6 * neck + 0.4 * pts[B.PELVIS]
    if facing(rc, centre) > 0.15:
        front = rc @ np.array([0.0, 0.0, rt * 0.9])
        c = centre + front
        a, b = prop.shoulder_w * h * look.print_w, prop.torso * h * look.print_h
        quad = np.array([c + rc @ np.array([sx * a, sy * b, 0.0])
                         for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
        chest.append((proj(quad), look.print_color))
        # V-neck collar showing skin
        n0 = neck + rc @ np.array([0.0, -0.005 * h, rt * 0.8])
        v = np.array([n0 + rc @ np.array([-0.035 * h, 0.0, 0.0]),
                      n0 + rc @ np.array([0.035 * h, 0.0, 0.0]),
                      n0 + rc @ np.array([0.0, -0.07 * h, 0.0])])
        chest.append((proj(v), look.skin[0, 0]))
    if facing(rr, pts[B.PELVIS]) > 0.15:
        c = pts[B.PELVIS] + rr @ np.array([0.0, 0.045 * h, prop.radius("thigh") * 1.1])
        q = np.array([c + rr @ np.array([sx * 0.022 * h, sy * 0.014 * h, 0.0])
                      for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
        pelvis.append((proj(q), look.buckle_color))
    return chest, pelvis


@dataclass
class _PartDraw:
    depth: float
    fn: object  # callable(Canvas) -> None


def _person_parts(person: PersonState, cam: Camera, pidx: int
                  ) -> tuple[list[_PartDraw], np.ndarray, np.ndarray, np.ndarray]:
    """Draw calls (with depth) for one person, its 2D keypoints, depths and face-facing flags."""
    fk = B.forward_kinematics(person.pose, person.prop)
    rot = cam.rotation()
    pc = fk.points @ rot.T + person.root_cam
    uv = cam.project(pc)
    z = pc[:, 2]
    prop, look = person.prop, person.look
    f = cam.focal
    base_id = 1 + pidx * PARTS_PER_PERSON
    out = look.outline
    draws: list[_PartDraw] = []

    def rpx(part: str, at: int) -> float:
        return prop.radius(part) * f / max(z[at], 1e-3)

    def capsule(part: str, i: int, j: int, tile: np.ndarray, r: float) -> None:
        pid = base_id + PART[part]
        a, b = uv[i].copy(), uv[j].copy()
        draws.append(_PartDraw(0.5 * (z[i] + z[j]),
                               lambda cv: _draw_capsule_part(cv, a, b, r, tile, pid, out)))

    sleeve = look.shirt if look.long_sleeves else look.skin
    legs = look.pants if look.long_pants else look.skin
    for s, side in ((0, "l"), (1, "r")):
        sh, el, wr = 5 + s, 7 + s, 9 + s
        hip, kn, an = 11 + s, 13 + s, 15 + s
        capsule(f"{side}_upper_arm", sh, el, look.shirt, rpx("upper_arm", el))
        capsule(f"{side}_forearm", el, wr, sleeve, rpx("forearm", wr))
        capsule(f"{side}_hand", wr, B.L_HAND + s, look.skin, rpx("hand", wr))
        capsule(f"{side}_thigh", hip, kn, look.pants, rpx("thigh", kn))
        capsule(f"{side}_shank", kn, an, legs, rpx("shank", an))
        capsule(f"{side}_foot", an, B.L_TOE + s, look.shoes, rpx("foot", an))
    capsule("neck", B.NECK, B.HEAD_C, look.skin, rpx("neck", B.NECK))

    # Torso: shoulder-hip quad plus a thick spine capsule (gives the side view its depth).
    tr = rpx("torso", B.PELVIS)
    quad = uv[[5, 6, 12, 11]].copy()
    spine = (uv[B.PELVIS] * 0.85 + uv[B.NECK] * 0.15, uv[B.NECK].copy(), tr)
    torso_depth = float(z[[5, 6, 11, 12]].mean() + 0.3 * prop.radius("torso"))
    tid = base_id + PART["torso"]
    chest_d, pelvis_d = _front_decals(person, fk, cam, rot)
    draws.append(_PartDraw(torso_depth, lambda cv: _draw_poly_part(
        cv, quad, look.shirt, tid, out, [spine], chest_d)))
    pr = rpx("thigh", B.PELVIS) * 1.05
    mid = uv[B.PELVIS].copy()
    up = uv[B.NECK] - uv[B.PELVIS]
    hips = np.stack([uv[11], uv[12], uv[12] + 0.22 * up, uv[11] + 0.22 * up])
    pvid = base_id + PART["pelvis"]
    draws.append(_PartDraw(torso_depth - 1e-4, lambda cv: _draw_poly_part(
        cv, hips, look.pants, pvid, out,
        [(uv[11].copy(), uv[12].copy(), pr), (mid, mid + 0.2 * up, tr * 0.9)], pelvis_d)))

    # Head: skin and hair ellipses in their own depth order, then face features.
    hr = prop.head_r * f / max(z[B.HEAD_C], 1e-3)
    hc = uv[B.HEAD_C].copy()
    head_up = fk.head_rot @ np.array([0.0, 1.0, 0.0])
    up2 = (cam.project(fk.points[B.HEAD_C] @ rot.T + person.root_cam + rot @ head_up * 0.05)
           - hc)
    angle = float(np.degrees(np.arctan2(up2[1], up2[0])) + 90.0)
    facing = np.zeros(5, bool)
    for k in range(5):
        n = pc[k] - pc[B.HEAD_C]
        n /= max(np.linalg.norm(n), 1e-9)
        view = -pc[k] / max(np.linalg.norm(pc[k]), 1e-9)
        facing[k] = float(n @ view) > FACE_FACING[k]
    hair_off = fk.head_rot @ (np.array([0.0, 0.22, -0.3]) * prop.head_r * prop.height)
    hair_p = fk.points[B.HEAD_C] + hair_off
    hair_pc = hair_p @ rot.T + person.root_cam
    hair_uv = cam.project(hair_pc)
    hid = base_id + PART["head"]
    skin_c = look.skin[0, 0]

    def draw_head(cv: Canvas) -> None:
        skin_call = (float(z[B.HEAD_C]), lambda: _ellipse_shade(
            cv, hc, (0.92 * hr, 1.1 * hr), angle, look.skin, hid, out))
        calls = [skin_call]
        if look.hair is not None:
            hair_tile = look.hair
            ax = (0.95 * hr, (1.25 if look.hair_long else 1.0) * hr)
            calls.append((float(hair_pc[2]), lambda: _ellipse_shade(
                cv, hair_uv, ax, angle, hair_tile, hid, out)))
        for _, fn in sorted(calls, key=lambda t: -t[0]):
            fn()
        # Face features only where they face the camera; they keep the head's part id.
        feat = np.zeros((cv.h, cv.w), np.uint8)
        for k in (3, 4):  # ears
            if facing[k]:
                e = (round(uv[k][0]), round(uv[k][1]))
                ax = (max(1, round(0.16 * hr)), max(1, round(0.28 * hr)))
                cv2.ellipse(cv.img, e, ax, angle, 0, 360, (skin_c * 0.85).tolist(), -1)
                cv2.ellipse(feat, e, ax, angle, 0, 360, 1, -1)
        for k in (1, 2):
            if facing[k]:
                e = (round(uv[k][0]), round(uv[k][1]))
                cv2.circle(cv.img, e, max(1, round(0.12 * hr)), (20.0, 20.0, 25.0), -1)
                cv2.circle(feat, e, max(1, round(0.12 * hr)), 1, -1)
        if facing[0]:
            e = (round(uv[0][0]), round(uv[0][1]))
            cv2.circle(cv.img, e, max(1, round(0.1 * hr)), (skin_c * 0.6).tolist(), -1)
            cv2.circle(feat, e, max(1, round(0.1 * hr)), 1, -1)
            if facing[1] and facing[2]:
                mouth = uv[0] + (uv[0] - 0.5 * (uv[1] + uv[2])) * 0.9
                cv2.ellipse(cv.img, (round(mouth[0]), round(mouth[1])),
                            (max(1, round(0.22 * hr)), max(1, round(0.06 * hr))), angle,
                            0, 360, (60.0, 60.0, 150.0), -1)
        cv.ids[feat > 0] = hid

    draws.append(_PartDraw(float(z[B.HEAD_C]), draw_head))
    return draws, uv[:17], z[:17], facing


def render_people(
    img: np.ndarray,
    cam: Camera,
    people: list[PersonState],
    occluders: list[tuple[np.ndarray, np.ndarray]] = (),  # type: ignore[assignment]
) -> tuple[np.ndarray, FrameGT, np.ndarray]:
    """Paints ``people`` and then ``occluders`` (mask, colour) over ``img`` (float BGR).

    Returns:
        The painted float image, the ground truth and the part-id buffer.
    """
    cv = Canvas(img)
    draws: list[_PartDraw] = []
    kps, depths, faces = [], [], []
    for p, person in enumerate(people):
        d, uv, z, facing = _person_parts(person, cam, p)
        draws += d
        kps.append(uv)
        depths.append(z)
        faces.append(facing)
    for dr in sorted(draws, key=lambda d: -d.depth):
        dr.fn(cv)  # type: ignore[operator]
    for mask, colour in occluders:
        cv.img[mask] = colour
        cv.ids[mask] = OCCLUDER_ID
    n = len(people)
    kp = np.asarray(kps, np.float64).reshape(n, 17, 2)
    vis = np.zeros((n, 17), np.uint8)
    boxes = np.zeros((n, 4))
    areas = np.zeros(n)
    pid_of = np.where(cv.ids > 0, (cv.ids - 1) // PARTS_PER_PERSON, -1)
    for p in range(n):
        m = pid_of == p
        areas[p] = float(m.sum())
        if areas[p] > 0:
            ys, xs = np.nonzero(m)
            boxes[p] = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        for k in range(17):
            x, y = kp[p, k]
            xi, yi = round(x), round(y)
            if not (0 <= xi < cv.w and 0 <= yi < cv.h):
                continue
            pid = int(cv.ids[yi, xi])
            own = pid > 0 and (pid - 1) // PARTS_PER_PERSON == p and (
                (pid - 1) % PARTS_PER_PERSON in OWNERS[k]
            )
            if k < 5:
                own = own and bool(faces[p][k])
            vis[p, k] = 2 if own else 1
    depth = np.asarray(depths, np.float64).reshape(n, 17)
    return cv.img, FrameGT(kp, vis, boxes, areas, depth), cv.ids


def place_person(cam: Camera, prop: B.Proportions, u: float, v: float, px_height: float
                 ) -> np.ndarray:
    """Pelvis position (camera frame) that puts a body of ``px_height`` pixels with its
    pelvis at pixel ``(u, v)``."""
    d = cam.focal * prop.height / max(px_height, 1.0)
    return np.array([(u - cam.width / 2) * d / cam.focal, (v - cam.height / 2) * d / cam.focal, d])
