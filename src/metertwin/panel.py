"""The live panel of `metertwin run`: what the meter's display and a test bench would show."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from metertwin.meter.core import Meter
from metertwin.meter.disconnect import ControlState
from metertwin.meter.registers import Energy
from metertwin.meter.wallet import AccountStatus

_RELAY = {
    ControlState.CONNECTED: ("connected", "green"),
    ControlState.DISCONNECTED: ("disconnected", "red"),
    ControlState.READY_FOR_RECONNECTION: ("ready for reconnection", "yellow"),
}


def format_wh(mwh: int) -> str:
    """mWh as kWh with three decimals (exact: integer arithmetic)."""
    sign = "-" if mwh < 0 else ""
    wh = abs(mwh) // 1000
    return f"{sign}{wh // 1000}.{wh % 1000:03d}"


def render(meter: Meter, status: str) -> RenderableType:
    spec = meter.spec
    local = meter.local_time()
    clock_status = meter.clock.status(meter.meter_time_ms())
    relay, colour = _RELAY[meter.disconnect.state]
    inst = meter.instantaneous()
    header = Text.assemble(
        (f"{spec.name} ", "bold"),
        f"#{meter.serial_number}  ",
        (local.strftime("%Y-%m-%d %H:%M:%S"), "bold cyan"),
        f" (status 0x{int(clock_status):02X})  rate ",
        (f"T{meter.rate}", "bold magenta"),
        "  relay ",
        (relay, f"bold {colour}"),
    )
    phases = Table(title="Instantaneous (primary side)", expand=False)
    for column in ("", "V", "A", "kW", "kvar", "kVA", "PF", "angle"):
        phases.add_column(column, justify="right")
    for k, reading in enumerate(inst.phases, start=1):
        phases.add_row(
            f"L{k}",
            f"{reading.voltage_v:7.1f}",
            f"{reading.current_a:7.2f}",
            f"{reading.active_w / 1000:7.3f}",
            f"{reading.reactive_var / 1000:7.3f}",
            f"{reading.apparent_va / 1000:7.3f}",
            f"{reading.power_factor:5.2f}",
            f"{reading.angle_deg:6.1f}°",
        )
    phases.add_row(
        "Σ",
        "",
        "",
        f"{inst.active_w / 1000:7.3f}",
        f"{inst.reactive_var / 1000:7.3f}",
        f"{inst.apparent_va / 1000:7.3f}",
        f"{inst.power_factor:5.2f}",
        "",
    )
    extras = [f"f {inst.frequency_hz:.2f} Hz", f"T {inst.temperature_c:.1f} °C"]
    if inst.neutral_current_a is not None:
        extras.append(f"IN {inst.neutral_current_a:.2f} A")
    if not inst.powered:
        extras.append("NO SUPPLY")
    if inst.faults:
        extras.append(f"faults: {inst.faults!r}")
    energy = Table(title="Energy registers (kWh, kvarh, kVAh)")
    energy.add_column("register", no_wrap=True)
    energy.add_column("total", justify="right", no_wrap=True)
    rates = _rates_in_use(meter)
    for r in rates:
        energy.add_column(f"T{r}", justify="right", no_wrap=True)
    for label, quantity in (
        ("+A import", Energy.IMPORT_ACTIVE),
        ("-A export", Energy.EXPORT_ACTIVE),
        ("+R", Energy.IMPORT_REACTIVE),
        ("-R", Energy.EXPORT_REACTIVE),
    ):
        energy.add_row(
            label,
            format_wh(meter.energy_mwh(quantity)),
            *(format_wh(meter.energy_mwh(quantity, 0, r)) for r in rates),
        )
    energy.add_row("S import", format_wh(meter.energy_mwh(Energy.IMPORT_APPARENT)))
    energy.add_row("S export", format_wh(meter.energy_mwh(Energy.EXPORT_APPARENT)))
    parts: list[RenderableType] = [header, phases, Text("  ".join(extras)), energy]
    if meter.wallet is not None:
        parts.append(Text(credit_text(meter), style="bold"))
    return Group(*parts, Text(status, style="dim"))


def credit_text(meter: Meter) -> str:
    """The wallet as a customer display shows it: mode, credit, warnings, last token."""
    wallet = meter.wallet
    if wallet is None:
        return ""
    mode = wallet.mode.name.lower()
    if wallet.status is not AccountStatus.ACTIVE:
        mode += f" ({wallet.status.name.lower().replace('_', ' ')})"
    text = f"{mode}  credit {meter.format_credit(wallet.credit)}"
    if wallet.emergency_in_use:
        text += f"  emergency {meter.format_credit(wallet.emergency_remaining)}"
    if wallet.alarm_level:
        text += f"  LOW CREDIT {wallet.alarm_level}"
    if meter.token_results:
        last = meter.token_results[0]
        text += f"  last token: {last.message}"
    return text


def _rates_in_use(meter: Meter) -> list[int]:
    """Rates the active calendar switches to, or that hold energy: the columns worth showing."""
    used = {switch.rate for day in meter.calendar.active.days for switch in day.switches}
    used |= {
        r
        for r in range(1, meter.spec.capacity.rates + 1)
        if meter.registers.micro(Energy.ABSOLUTE_ACTIVE, rate=r)
    }
    return sorted(used)


def summary_line(meter: Meter) -> str:
    """One plain line for logs and `--no-panel`."""
    inst = meter.instantaneous()
    return (
        f"{meter.local_time():%Y-%m-%d %H:%M:%S} T{meter.rate} "
        f"P={inst.active_w:.0f}W "
        f"+A={format_wh(meter.energy_mwh(Energy.IMPORT_ACTIVE))}kWh "
        f"-A={format_wh(meter.energy_mwh(Energy.EXPORT_ACTIVE))}kWh "
        f"relay={meter.disconnect.state.name.lower()}"
        + (f" credit={meter.format_credit(meter.wallet.credit)}" if meter.wallet else "")
    )
