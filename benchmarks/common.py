"""What every benchmark prints first: the machine the figures were measured on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{platform.system()} {platform.release()}"
    )


def header(title: str) -> None:
    print(f"== {title}")
    print(f"   machine: {machine()}")


def simulate(model: str, data: str, start: str, until: str) -> None:
    """`metertwin simulate` as a user runs it, quietly."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "metertwin",
            "simulate",
            "--model",
            model,
            "--data",
            data,
            "--start",
            start,
            "--until",
            until,
            "--progress",
            "none",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
