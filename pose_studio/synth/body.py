"""An articulated 3D human body: proportions, joint angles within human limits, kinematics.

Body frame (right-handed, metres): ``x`` points to the person's left, ``y`` up, ``z`` forward.
:func:`forward_kinematics` returns the 3D positions of the COCO-17 keypoints plus the extra
points the renderer needs (neck, pelvis, head centre, hands, toes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# --- pose parameters (radians) -------------------------------------------------------------------
POSE_NAMES: tuple[str, ...] = (
    "root_yaw", "root_pitch", "root_roll",
    "spine_bend", "spine_side", "spine_twist",
    "head_yaw", "head_pitch", "head_roll",
    "l_sh_flex", "l_sh_abd", "l_sh_twist", "l_elbow",
    "r_sh_flex", "r_sh_abd", "r_sh_twist", "r_elbow",
    "l_hip_flex", "l_hip_abd", "l_knee",
    "r_hip_flex", "r_hip_abd", "r_knee",
)  # fmt: skip
P = {name: i for i, name in enumerate(POSE_NAMES)}
N_POSE = len(POSE_NAMES)

#: Joint limits in degrees (low, high). Yaw is free; the rest stay within human ranges.
LIMITS_DEG: dict[str, tuple[float, float]] = {
    "root_yaw": (-180.0, 180.0),
    "root_pitch": (-15.0, 30.0),
    "root_roll": (-15.0, 15.0),
    "spine_bend": (-15.0, 40.0),
    "spine_side": (-20.0, 20.0),
    "spine_twist": (-30.0, 30.0),
    "head_yaw": (-70.0, 70.0),
    "head_pitch": (-30.0, 40.0),
    "head_roll": (-20.0, 20.0),
    "l_sh_flex": (-40.0, 180.0),
    "l_sh_abd": (-10.0, 160.0),
    "l_sh_twist": (-60.0, 70.0),
    "l_elbow": (0.0, 145.0),
    "r_sh_flex": (-40.0, 180.0),
    "r_sh_abd": (-10.0, 160.0),
    "r_sh_twist": (-60.0, 70.0),
    "r_elbow": (0.0, 145.0),
    "l_hip_flex": (-20.0, 110.0),
    "l_hip_abd": (-10.0, 45.0),
    "l_knee": (0.0, 140.0),
    "r_hip_flex": (-20.0, 110.0),
    "r_hip_abd": (-10.0, 45.0),
    "r_knee": (0.0, 140.0),
}
LOW = np.radians([LIMITS_DEG[n][0] for n in POSE_NAMES])
HIGH = np.radians([LIMITS_DEG[n][1] for n in POSE_NAMES])

# Indices of the extra 3D points after the 17 COCO keypoints.
NECK, PELVIS, HEAD_C, L_HAND, R_HAND, L_TOE, R_TOE = range(17, 24)
N_POINTS = 24


def clamp_pose(pose: np.ndarray) -> np.ndarray:
    """Keeps every angle except the free yaw inside its limits."""
    out = np.clip(pose, LOW, HIGH)
    out[P["root_yaw"]] = pose[P["root_yaw"]]
    return out


@dataclass(frozen=True)
class Proportions:
    """Segment lengths as fractions of the body height, and limb thickness factors."""

    height: float = 1.75
    torso: float = 0.30  # pelvis (hip centre) to neck base
    shoulder_w: float = 0.21
    hip_w: float = 0.11
    neck: float = 0.075  # neck base to head centre
    head_r: float = 0.062
    upper_arm: float = 0.175
    forearm: float = 0.150
    hand: float = 0.055
    thigh: float = 0.245
    shank: float = 0.245
    foot: float = 0.075
    thickness: float = 1.0  # multiplies every limb radius
    torso_thickness: float = 1.0
    radii: dict[str, float] = field(
        default_factory=lambda: {
            "upper_arm": 0.030, "forearm": 0.024, "hand": 0.019, "thigh": 0.048,
            "shank": 0.035, "foot": 0.022, "neck": 0.027, "torso": 0.068,
        }
    )  # fmt: skip

    def radius(self, part: str) -> float:
        base = self.radii[part] * self.height
        if part == "torso":
            return base * self.torso_thickness
        return base * self.thickness


def sample_proportions(rng: np.random.Generator, style: str = "default") -> Proportions:
    """Varied adult/teen body proportions; ``style`` "cartoon" gives an unseen, stylised body."""
    j = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    if style == "cartoon":
        return Proportions(
            height=j(1.2, 1.6), torso=j(0.27, 0.33), shoulder_w=j(0.26, 0.32), hip_w=j(0.13, 0.17),
            neck=j(0.09, 0.11), head_r=j(0.10, 0.13), upper_arm=j(0.14, 0.17),
            forearm=j(0.12, 0.15), hand=j(0.06, 0.08), thigh=j(0.18, 0.22), shank=j(0.17, 0.21),
            foot=j(0.08, 0.10), thickness=j(1.35, 1.8), torso_thickness=j(1.2, 1.5),
        )
    return Proportions(
        height=j(1.5, 1.95), torso=j(0.28, 0.32), shoulder_w=j(0.18, 0.24), hip_w=j(0.09, 0.13),
        neck=j(0.065, 0.085), head_r=j(0.055, 0.07), upper_arm=j(0.16, 0.19),
        forearm=j(0.135, 0.16), hand=j(0.05, 0.06), thigh=j(0.23, 0.26), shank=j(0.23, 0.26),
        foot=j(0.065, 0.085), thickness=j(0.7, 1.35), torso_thickness=j(0.8, 1.3),
    )


# --- rotations -----------------------------------------------------------------------------------
def rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def ry(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


_DOWN = np.array([0.0, -1.0, 0.0])


@dataclass(frozen=True)
class BodyPose3D:
    """Forward-kinematics result in the body frame (metres)."""

    points: np.ndarray  # (N_POINTS, 3)
    head_rot: np.ndarray  # (3, 3) head frame -> body frame
    chest_rot: np.ndarray | None = None  # (3, 3) chest frame -> body frame
    root_rot: np.ndarray | None = None  # (3, 3) pelvis frame -> body frame


def forward_kinematics(pose: np.ndarray, prop: Proportions) -> BodyPose3D:
    """3D points for a pose vector (see :data:`POSE_NAMES`); pelvis at the origin."""
    a = pose
    h = prop.height
    pts = np.zeros((N_POINTS, 3))
    r_root = ry(a[P["root_yaw"]]) @ rx(a[P["root_pitch"]]) @ rz(a[P["root_roll"]])
    r_chest = (
        r_root @ ry(a[P["spine_twist"]]) @ rx(a[P["spine_bend"]]) @ rz(a[P["spine_side"]])
    )
    pelvis = np.zeros(3)
    neck = pelvis + r_chest @ np.array([0.0, prop.torso * h, 0.0])
    pts[PELVIS], pts[NECK] = pelvis, neck
    r_head = r_chest @ ry(a[P["head_yaw"]]) @ rx(a[P["head_pitch"]]) @ rz(a[P["head_roll"]])
    hr = prop.head_r * h
    head_c = neck + r_chest @ np.array([0.0, prop.neck * h * 0.6, 0.0]) + r_head @ np.array(
        [0.0, prop.neck * h * 0.4, 0.1 * hr]
    )
    pts[HEAD_C] = head_c
    face = {
        0: (0.0, -0.2, 1.0),  # nose
        1: (0.34, 0.12, 0.86),  # left eye
        2: (-0.34, 0.12, 0.86),
        3: (0.86, 0.02, -0.08),  # left ear
        4: (-0.86, 0.02, -0.08),
    }
    for k, off in face.items():
        pts[k] = head_c + r_head @ (np.asarray(off) * hr)

    for side, sgn in (("l", 1.0), ("r", -1.0)):
        sh = neck + r_chest @ np.array([sgn * prop.shoulder_w * h / 2, -0.025 * h, -0.01 * h])
        r_ua = (
            r_chest
            @ rz(sgn * a[P[f"{side}_sh_abd"]])
            @ rx(-a[P[f"{side}_sh_flex"]])
            @ ry(sgn * a[P[f"{side}_sh_twist"]])
        )
        elbow = sh + r_ua @ (_DOWN * prop.upper_arm * h)
        r_fa = r_ua @ rx(-a[P[f"{side}_elbow"]])
        wrist = elbow + r_fa @ (_DOWN * prop.forearm * h)
        hand = wrist + r_fa @ (_DOWN * prop.hand * h)
        hip = pelvis + r_root @ np.array([sgn * prop.hip_w * h / 2, 0.0, 0.0])
        r_th = r_root @ rz(sgn * a[P[f"{side}_hip_abd"]]) @ rx(-a[P[f"{side}_hip_flex"]])
        knee = hip + r_th @ (_DOWN * prop.thigh * h)
        r_sh = r_th @ rx(a[P[f"{side}_knee"]])
        ankle = knee + r_sh @ (_DOWN * prop.shank * h)
        toe = ankle + r_sh @ rx(-np.pi / 2) @ (_DOWN * prop.foot * h) + r_sh @ (_DOWN * 0.02 * h)
        i = 0 if side == "l" else 1
        pts[5 + i], pts[7 + i], pts[9 + i] = sh, elbow, wrist
        pts[11 + i], pts[13 + i], pts[15 + i] = hip, knee, ankle
        pts[L_HAND + i], pts[L_TOE + i] = hand, toe
    return BodyPose3D(points=pts, head_rot=r_head, chest_rot=r_chest, root_rot=r_root)


def random_pose(rng: np.random.Generator, *, activity: float = 1.0) -> np.ndarray:
    """A random pose: a blend of a relaxed standing pose and a uniform draw within the limits.

    Args:
        activity: 0 keeps close to standing, 1 spans the whole joint range often.
    """
    rest = np.zeros(N_POSE)
    rest[P["l_sh_abd"]] = rest[P["r_sh_abd"]] = np.radians(8)
    rest[P["l_elbow"]] = rest[P["r_elbow"]] = np.radians(10)
    rest[P["l_knee"]] = rest[P["r_knee"]] = np.radians(5)
    uniform = rng.uniform(LOW, HIGH)
    w = rng.uniform(0.0, 1.0, N_POSE) ** (1.5 / max(activity, 1e-3))
    # Torso/head angles stay milder than limbs most of the time.
    w[P["root_pitch"] : P["head_roll"] + 1] *= 0.7
    pose = rest + w * (uniform - rest)
    # Legs: keep at least one leg under the body most of the time (standing / walking).
    if rng.random() < 0.6:
        leg = "l" if rng.random() < 0.5 else "r"
        pose[P[f"{leg}_hip_flex"]] *= 0.3
        pose[P[f"{leg}_knee"]] *= 0.3
        pose[P[f"{leg}_hip_abd"]] *= 0.5
    pose[P["root_yaw"]] = rng.uniform(-np.pi, np.pi)
    return clamp_pose(pose)
