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


def start_meter(
    model: str, data: str, speed: str, stderr: int = subprocess.PIPE
) -> tuple[subprocess.Popen[bytes], int]:
    """`metertwin run` as a user starts it, on a free port of 127.0.0.1: the process and the
    port it printed. A caller that never reads stderr passes ``subprocess.DEVNULL``."""
    command = [
        sys.executable, "-m", "metertwin", "run", "--api-port", "off",
        "--model", model, "--data", data,
        "--start", "2026-11-01T00:00", "--speed", speed, "--no-panel", "--port", "0",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    first = process.stdout.readline().decode()
    if not first.startswith("DLMS/COSEM on "):
        process.kill()
        _, err = process.communicate()
        said = err.decode()[-400:] if err else ""
        raise RuntimeError(f"the meter did not start: {first!r} {said}")
    return process, int(first.rsplit(":", 1)[1])
