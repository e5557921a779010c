"""`make soak` (python -m benchmarks.soak): the reliability campaign of issue 19, every part
bounded in time, on 127.0.0.1 only, printing its figures; exit 1 when any part failed.

- SIGKILLs during tokens and accumulation (goal 1,000; 0 lost, 0 doubled, 0 regressions)
- fuzzed frames per parser (goal 1,000,000 each; 0 crashes), then over TCP with a fresh GET
  answered within 50 ms
- flood, slowloris and connection churn with the service and the evidence kept
- storage faults: a disk that fills under a running meter, a read-only memory

`--quick` runs a short version of each (about two minutes); the defaults take about 45.
"""

from __future__ import annotations

import argparse
import resource

from benchmarks import soak_fuzz, soak_kills, soak_network, soak_storage


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short version of each part")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    if args.quick:
        kills = ["--kills", "20", "--seconds", "120"]
        fuzz = ["--frames", "50000", "--seconds", "20"]
        network = ["--connections", "300", "--churn", "300", "--fuzz-frames", "5000"]
    else:
        kills = ["--kills", str(soak_kills.DEFAULT_KILLS)]
        fuzz = ["--frames", str(soak_fuzz.DEFAULT_FRAMES)]
        network = []
    results = [
        soak_kills.main(kills),
        soak_fuzz.main(fuzz),
        soak_network.main(network),
        soak_storage.main(),
    ]
    print(f"== soak: {results.count(0)} of {len(results)} parts passed")
    return 0 if all(r == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
