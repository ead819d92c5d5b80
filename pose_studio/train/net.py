"""A compact HRNet (Sun et al., "Deep High-Resolution Representation Learning", CVPR 2019).

Parallel multi-resolution branches (1/4, 1/8, 1/16, 1/32) with repeated exchange (fusion) units,
a heatmap head on the 1/4 branch. Widths and depths are small enough for real-time CPU use.
Imports torch at module level: import this module only when training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class NetConfig:
    width: int = 16  # channels of the highest-resolution branch (branch i has width * 2**i)
    stem: int = 32
    layer1: int = 32  # channels of the 1/4-resolution residual blocks before the branches
    blocks: int = 2  # residual blocks per branch per module
    modules: tuple[int, int, int] = (1, 2, 1)  # exchange modules in stages 2, 3, 4
    num_keypoints: int = 17
    extra: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["modules"] = list(self.modules)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        d = dict(d)
        d["modules"] = tuple(d.get("modules", (1, 2, 1)))
        return cls(**d)


def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, relu: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.c1 = _conv_bn(cin, cout)
        self.c2 = _conv_bn(cout, cout, relu=False)
        self.skip = None if cin == cout else _conv_bn(cin, cout, 1, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c2(self.c1(x))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


class ExchangeModule(nn.Module):
    """Residual blocks on every branch, then every branch receives every other (fusion)."""

    def __init__(self, widths: Sequence[int], blocks: int, n_out: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(w, w) for _ in range(blocks)]) for w in widths
        )
        self.fuse = nn.ModuleList()
        for i in range(n_out):
            row = nn.ModuleList()
            for j, wj in enumerate(widths):
                if j == i:
                    row.append(nn.Identity())
                elif j > i:  # lower resolution -> 1x1 conv, upsample later
                    row.append(_conv_bn(wj, widths[i], 1, relu=False))
                else:  # higher resolution -> strided 3x3 convs
                    steps: list[nn.Module] = []
                    for s in range(i - j):
                        last = s == i - j - 1
                        cout = widths[i] if last else wj
                        steps.append(_conv_bn(wj, cout, 3, 2, relu=not last))
                    row.append(nn.Sequential(*steps))
            self.fuse.append(row)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [b(x) for b, x in zip(self.branches, xs)]
        out = []
        for i, row in enumerate(self.fuse):
            acc = xs[i]
            for j, f in enumerate(row):  # type: ignore[arg-type,var-annotated]
                if j == i:
                    continue
                y = f(xs[j])
                if j > i:
                    y = F.interpolate(y, size=xs[i].shape[-2:], mode="nearest")
                acc = acc + y
            out.append(F.relu(acc))
        return out


class HRNet(nn.Module):
    """Input ``[N, 3, H, W]`` normalised RGB; output ``[N, K, H/4, W/4]`` heatmaps."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.stem = nn.Sequential(_conv_bn(3, cfg.stem, 3, 2), _conv_bn(cfg.stem, cfg.stem, 3, 2))
        c1 = cfg.layer1
        self.layer1 = nn.Sequential(BasicBlock(cfg.stem, c1), BasicBlock(c1, c1))
        widths = [w, 2 * w]
        self.trans1 = nn.ModuleList([_conv_bn(c1, widths[0]), _conv_bn(c1, widths[1], 3, 2)])
        self.stages = nn.ModuleList()
        self.trans = nn.ModuleList()
        n_branches = 2
        for si, n_mod in enumerate(cfg.modules):
            mods = []
            for m in range(n_mod):
                final = si == len(cfg.modules) - 1 and m == n_mod - 1
                mods.append(ExchangeModule(widths[:n_branches], cfg.blocks, 1 if final else n_branches))
            self.stages.append(nn.ModuleList(mods))
            if si < len(cfg.modules) - 1:
                prev = widths[n_branches - 1]
                widths.append(2 * widths[-1])
                self.trans.append(_conv_bn(prev, widths[n_branches], 3, 2))
                n_branches += 1
        self.head = nn.Conv2d(w, cfg.num_keypoints, 1)
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.ones_(mod.weight)
                nn.init.zeros_(mod.bias)
        nn.init.normal_(self.head.weight, std=0.001)
        nn.init.zeros_(self.head.bias)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(self.stem(x))
        xs = [t(x) for t in self.trans1]
        for si, mods in enumerate(self.stages):
            for m in mods:  # type: ignore[attr-defined]
                xs = m(xs)
            if si < len(self.trans):
                xs = [*xs, self.trans[si](xs[-1])]
        return self.head(xs[0])


def build(cfg: NetConfig | None = None) -> HRNet:
    return HRNet(cfg or NetConfig())
