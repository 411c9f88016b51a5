"""Shared by the benchmark scripts: credentials, interleaved timing, the ratio table.

Absolute times on a shared machine mean little, so every script runs its variants interleaved
(A B A B ...), takes the median of each, and reports ratios from the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

CLIENT_ID = "bench-client"
#: A plain-text secret, as it comes from an environment variable; 64 characters, so PyJWT's
#: key-length recommendation for HS512 is met and it warns about nothing.
SECRET = "bench-secret-" + "k" * 51
USER = "user-123"
#: The user comes from a header an authenticating proxy sets, read the same way by every variant.
USER_HEADER = "X-User"
TOKEN_PATH = "/rollout-token"
PASS_PATH = "/"


@dataclass(frozen=True)
class Comparison:
    """One row of the table: ``candidate`` against ``baseline``, with an optional target ratio."""

    label: str
    baseline: str
    candidate: str
    target: str = ""  # e.g. "<= 1.04" or ">= 0.6"


#: The clock of the in-process benchmarks: the process's CPU time by default, which a busy shared
#: machine disturbs far less than wall time (waiting for a CPU does not count); ``--clock wall``
#: for wall time.
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
clock: Callable[[], float] = time.process_time


def parse_args(p: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line, and select the clock."""
    global clock
    args = p.parse_args()
    clock = CLOCKS[args.clock]
    return args


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--clock", choices=tuple(CLOCKS), default="cpu", help="default: cpu")
    p.add_argument(
        "--quick", action="store_true", help="a few-second smoke run (numbers are noise)"
    )
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per variant")
    return p


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()} "
        f"({sys.implementation.name}), {platform.system()} {platform.release()}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def interleave(
    variants: dict[str, Callable[[int], float]], *, rounds: int, batch_seconds: float
) -> dict[str, list[float]]:
    """Run the variants A B C A B C ..., ``rounds`` times; seconds per operation by variant.

    Each variant is a callable that runs ``n`` operations and returns the elapsed seconds. Each
    is first calibrated so that one batch takes about ``batch_seconds``: short batches, many
    rounds, so that the load of a shared machine hits every variant alike.
    """
    sizes: dict[str, int] = {}
    for name, run in variants.items():
        n = 1
        while True:
            elapsed = run(n)
            if elapsed >= batch_seconds / 4 or n >= 1_000_000:
                break
            n *= 4
        sizes[name] = max(1, round(n * batch_seconds / max(elapsed, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            samples[name].append(run(sizes[name]) / sizes[name])
    return samples


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def paired_ratio(baseline: Sequence[float], candidate: Sequence[float]) -> float:
    """The median of the round-by-round ratios candidate / baseline (each pair ran back to back)."""
    return statistics.median(c / b for b, c in zip(baseline, candidate, strict=True))


def _meets(ratio: float, target: str) -> str:
    if not target:
        return ""
    op, value = target.split()
    ok = ratio <= float(value) if op == "<=" else ratio >= float(value)
    return "yes" if ok else "**no**"


def time_table(
    samples: dict[str, list[float]], comparisons: Sequence[Comparison], unit: float = 1e-6
) -> str:
    """A Markdown table: median µs per operation, and the median of the paired ratios."""
    rows = [
        "| comparison | baseline | µs | candidate | µs | ratio | target | met |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    for c in comparisons:
        base = median(samples[c.baseline]) / unit
        cand = median(samples[c.candidate]) / unit
        ratio = paired_ratio(samples[c.baseline], samples[c.candidate])
        rows.append(
            f"| {c.label} | {c.baseline} | {base:.2f} | {c.candidate} | {cand:.2f} | "
            f"{ratio:.3f}x | {c.target} | {_meets(ratio, c.target)} |"
        )
    return "\n".join(rows)
