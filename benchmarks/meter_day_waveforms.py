"""One detailed meter-day: a PMM1220 with `[power_quality] waveforms = true`, its waveforms
synthesised and measured every 10 minutes (harmonics to the 50th, THDS, the flickermeter)
over a household day with a dip; and the same day as a fleet meter, for comparison.

Target (issue 16, "Figures"): a detailed meter-day with waveforms <= 2 minutes.
Run with `python -m benchmarks.meter_day_waveforms` from the repository root.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from benchmarks.common import header
from metertwin.meter.core import Meter
from metertwin.models import load_model
from metertwin.sim import WorldSite
from metertwin.sim.power_quality import install_power_quality
from metertwin.sim.scenario import parse_scenario
from metertwin.sim.world import SimulatedWorld

DAY_MS = 86_400_000


def _day(waveforms: bool) -> tuple[float, Meter]:
    model = load_model("pmm1220")
    spec = model.spec
    site = WorldSite(1, spec.ratings.nominal_voltage_v, spec.ratings.frequency_hz, 180)
    doc = {
        "kind": "household",
        "annual_kwh": model.world.annual_kwh,
        "voltage_events": [{"start": "2026-03-02T12:00:00", "duration_s": 0.5, "residual": 0.5}],
        "power_quality": {
            "waveforms": waveforms,
            "voltage_harmonics": {"3": 1.0, "5": 3.0, "7": 1.5},
            "appliances": {"smps": 0.3, "led_driver": 0.2, "motor": 0.5},
            "flicker_cpm": 110.0,
            "flicker_depth_percent": 0.5,
        },
    }
    world = SimulatedWorld(parse_scenario(doc, "benchmark", site), site)
    start = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000) - 3 * 3_600_000
    meter = Meter(spec, start)
    install_power_quality(meter, world)
    series = world.series(start, start + DAY_MS)
    t0 = time.perf_counter()
    meter.feed(series)
    return time.perf_counter() - t0, meter


def main() -> None:
    header("detailed meter-day: PMM1220, waveforms measured every 10 minutes")
    fleet_s, _ = _day(False)
    detailed_s, meter = _day(True)
    reading = meter.power_quality.readings[0]
    dips = meter.power_quality.dips[0]
    thd_u, thd_i = reading.voltage_thd, reading.current_thd
    print(f"   last interval: THD U {thd_u:.2f} %, THD I {thd_i:.1f} %,")
    print(f"                  Pst {reading.pst:.3f}, Plt {reading.plt:.3f}; dips {dips.count}")
    print(f"   fleet meter-day:    {fleet_s:7.3f} s")
    print(f"   detailed meter-day: {detailed_s:7.3f} s   (target <= 120 s)")


if __name__ == "__main__":
    main()
