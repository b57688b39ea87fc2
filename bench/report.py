"""The results table: one row per figure, one column per server, ratios against each peer."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

OURS = "registry_index"
PEERS = ("pypiserver", "devpi", "proxpi", "nginx", "upstream")


@dataclass
class Cell:
    value: float | None  # what ratios are computed from (None: not measured or not supported)
    text: str


@dataclass
class Row:
    key: str
    label: str
    better: Literal["higher", "lower"]
    cells: dict[str, Cell] = field(default_factory=dict)

    def value(self, server: str) -> float | None:
        cell = self.cells.get(server)
        return cell.value if cell is not None else None

    def advantage(self, peer: str) -> float | None:
        """How many times better registry_index is than ``peer`` (>1: better; <1: worse)."""
        ours, theirs = self.value(OURS), self.value(peer)
        if ours is None or theirs is None or math.isnan(ours) or math.isnan(theirs):
            return None
        if self.better == "higher":
            return ours / theirs if theirs > 0 else math.inf
        return theirs / ours if ours > 0 else math.inf


def num(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "n/a"
    if value >= 100 or digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ms(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def ratio(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "∞"
    return f"{value:.3g}x" if value < 100 else f"{value:,.0f}x"


@dataclass
class Target:
    text: str
    check: Callable[[Results], tuple[bool | None, str]]  # (met? None: not measured, evidence)


class Results:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.notes: list[str] = []

    def row(self, key: str, label: str, better: Literal["higher", "lower"]) -> Row:
        if key not in self.rows:
            self.rows[key] = Row(key, label, better)
        return self.rows[key]

    def put(
        self,
        key: str,
        label: str,
        better: Literal["higher", "lower"],
        server: str,
        value: float | None,
        text: str,
    ) -> None:
        self.row(key, label, better).cells[server] = Cell(value, text)

    def value(self, key: str, server: str = OURS) -> float | None:
        row = self.rows.get(key)
        return row.value(server) if row is not None else None

    def servers(self) -> list[str]:
        present = {s for row in self.rows.values() for s in row.cells}
        return [s for s in (OURS, *PEERS) if s in present]

    def markdown(self) -> str:
        servers = self.servers()
        peers = [s for s in servers if s != OURS]
        head = ["figure", *servers, *(f"vs {p}" for p in peers)]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows.values():
            if ":" in row.key:  # p50/p99 kept for the targets, shown inside the rate's cell
                continue
            cells = [row.cells[s].text if s in row.cells else "-" for s in servers]
            ratios = [ratio(row.advantage(p)) for p in peers]
            lines.append("| " + " | ".join([row.label, *cells, *ratios]) + " |")
        return "\n".join(lines)

    def targets_markdown(self, targets: list[Target]) -> str:
        lines = ["| target | result | evidence |", "|---|---|---|"]
        for target in targets:
            met, evidence = target.check(self)
            verdict = "not measured" if met is None else ("**met**" if met else "**missed**")
            lines.append(f"| {target.text} | {verdict} | {evidence} |")
        return "\n".join(lines)
