"""Power quality measured from waveforms (issue 16): IEC 61000-4-30 windows, IEC 61000-4-7
harmonics, the IEC 61000-4-15 flickermeter, dips, swells and interruptions. Pure numpy and
scipy; knows no other metertwin package. Not yet wired to COSEM objects or event logs."""

from metertwin.power_quality.events import EventThresholds, VoltageEventRecord, detect_events
from metertwin.power_quality.flicker import (
    LAMP_120V,
    LAMP_230V,
    Flickermeter,
    FlickerSignal,
    Lamp,
    long_term_severity,
    pst_series,
    short_term_severity,
)
from metertwin.power_quality.harmonics import HarmonicAnalysis, analyse
from metertwin.power_quality.windows import (
    WINDOWS_PER_10_MINUTES,
    WINDOWS_PER_150_CYCLES,
    WindowGrid,
    aggregate,
    frequency,
    half_cycle_rms,
    window_rms,
)

__all__ = [
    "LAMP_120V",
    "LAMP_230V",
    "WINDOWS_PER_10_MINUTES",
    "WINDOWS_PER_150_CYCLES",
    "EventThresholds",
    "FlickerSignal",
    "Flickermeter",
    "HarmonicAnalysis",
    "Lamp",
    "VoltageEventRecord",
    "WindowGrid",
    "aggregate",
    "analyse",
    "detect_events",
    "frequency",
    "half_cycle_rms",
    "long_term_severity",
    "pst_series",
    "short_term_severity",
    "window_rms",
]
