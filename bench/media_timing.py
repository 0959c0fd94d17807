"""Timings of the media benchmark, taken the way a shared, noisy machine allows: every
measurement repeated, the measurements of a set taken in turns (A B C A B C ..., never
A A A B B B, so that a busy moment of the machine lands on all of them alike), and each
reported as its median with its spread (lowest and highest sample).

Each sample is wall-clock time and CPU time (this process's threads and the ffmpeg
children it waited for). CPU time barely moves when another program shares the cores,
so it tells a slow machine from a slow command.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import frozen

ROUNDS = 3


@frozen
class Took:
    wall: float
    cpu: float


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(action: Callable[[], object]) -> Took:
    """Wall and CPU time of ``action`` (which must wait for any process it starts)."""
    cpu = _cpu_seconds()
    started = time.perf_counter()
    action()
    return Took(time.perf_counter() - started, _cpu_seconds() - cpu)


Measure = Callable[[int], Took]
"""One sample of a measurement, given the round's number (for its own output folder)."""


def in_turns(measures: Mapping[str, Measure], rounds: int = ROUNDS) -> dict[str, list[Took]]:
    """``rounds`` samples of every measure, taken in turns in the mapping's order."""
    if rounds < 1:
        raise ValueError("at least one round")
    samples: dict[str, list[Took]] = {name: [] for name in measures}
    for number in range(rounds):
        for name, measure in measures.items():
            samples[name].append(measure(number))
    return samples


def spread(values: Sequence[float], digits: int = 4) -> dict[str, Any]:
    """Median, lowest and highest of ``values``, and the values themselves."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "samples": [round(v, digits) for v in values],
    }


def walls(samples: Sequence[Took]) -> dict[str, Any]:
    return spread([s.wall for s in samples])


def cpus(samples: Sequence[Took]) -> dict[str, Any]:
    return spread([s.cpu for s in samples])


def ratios(
    top: Sequence[Took], bottom: Sequence[Took], *, cpu: bool = False, scale: float = 1.0
) -> dict[str, Any]:
    """Round by round ``top / bottom`` (times ``scale``): each ratio compares two samples
    taken moments apart, which a slow drift of the machine cannot tilt."""
    pick: Callable[[Took], float] = (lambda t: t.cpu) if cpu else (lambda t: t.wall)
    return spread([pick(a) / pick(b) * scale for a, b in zip(top, bottom, strict=True)])


def per(values: Sequence[Took], divisor: float, *, cpu: bool = False) -> dict[str, Any]:
    """Each sample divided by ``divisor`` (a clip's duration, say)."""
    return spread([(t.cpu if cpu else t.wall) / divisor for t in values])


def show(figure: Mapping[str, Any], unit: str = " s", scale: float = 1.0, digits: int = 2) -> str:
    """``median [min-max]`` of a :func:`spread`."""
    median, low, high = (figure[k] * scale for k in ("median", "min", "max"))
    return f"{median:.{digits}f}{unit} [{low:.{digits}f}-{high:.{digits}f}]"


def met(figure: Mapping[str, Any], limit: float, *, at_least: bool = False) -> str:
    """Whether the median meets ``limit``."""
    value = figure["median"]
    return "yes" if (value >= limit if at_least else value <= limit) else "NO"


def conditions(ffmpeg: str) -> dict[str, Any]:
    """What the timings were taken on."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        version = (
            subprocess.run(  # noqa: S603 - the bundled ffmpeg, asked its version
                [ffmpeg, "-hide_banner", "-version"],
                check=True,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            .stdout.split("\n", 1)[0]
            .split(" Copyright", 1)[0]
        )
    except (OSError, subprocess.CalledProcessError):
        version = "unknown"
    return {
        "cpus_in_machine": os.cpu_count(),
        "cpus_usable": usable,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "ffmpeg": version,
    }
