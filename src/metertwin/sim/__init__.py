"""The simulated physical world: household load, PV, grid and faults at the meter's terminals."""

from metertwin.sim.base import Scenario, ScenarioParams, WorldSite
from metertwin.sim.scenario import (
    DEFAULT_SCENARIO,
    ScenarioError,
    builtin_scenario_names,
    load_scenario,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "Scenario",
    "ScenarioError",
    "ScenarioParams",
    "WorldSite",
    "builtin_scenario_names",
    "load_scenario",
]
