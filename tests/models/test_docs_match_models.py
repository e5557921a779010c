"""What the docs say about the built-in models is what the models hold (issue 11 item 19).

docs/dlms.md lists every association of every model; docs/prepayment.md lists the ones that may
enter tokens. A head-end following either must log in at the first try: a wrong secret burns a
lockout try (seed 002 5.12), so each table is parsed and compared with the model data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from metertwin.cli import tcp_settings
from metertwin.meter.core import Meter
from metertwin.meter.event_logs import BURST_MS
from metertwin.models import builtin_model_names, load_model
from metertwin.models.binder import build_logical_device
from metertwin.models.loader import AssociationSpec, DeviceModel
from metertwin.transport.tcp import TcpServerSettings

DOCS = Path(__file__).resolve().parents[2] / "docs"
METHOD_RIGHTS = ("utility", "management")  # binder.py: these may call methods


def table_rows(markdown: str, first_header: str) -> list[list[str]]:
    """The body rows of the first table whose header row starts with ``first_header``."""
    lines = markdown.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |")]
    assert starts, f"no table headed '| {first_header} |'"
    start = starts[0]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def saps(cell: str) -> list[int]:
    """``32 / 1`` or ``0x20 (32)`` -> the client SAPs, in order."""
    decimal = re.findall(r"\((\d+)\)", cell)
    return [int(n) for n in decimal] if decimal else [int(n, 0) for n in cell.split("/")]


def secrets(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def lls_associations(model: str) -> dict[int, AssociationSpec]:
    return {a.client_sap: a for a in load_model(model).dlms.associations if a.mechanism == "lls"}


def documented_secrets(
    rows: list[list[str]], sap_cell: int, secret_cell: int
) -> dict[str, dict[int, str]]:
    """model -> {client SAP: secret} as a table states it."""
    found: dict[str, dict[int, str]] = {}
    for row in rows:
        pairs = dict(zip(saps(row[sap_cell]), secrets(row[secret_cell]), strict=True))
        found.setdefault(row[0], {}).update(pairs)
    return found


def test_dlms_md_gives_every_association_and_its_real_secret() -> None:
    rows = table_rows((DOCS / "dlms.md").read_text(), "model | client SAP")
    public = [row for row in rows if row[0] == "all"]
    assert len(public) == 1 and saps(public[0][1]) == [16] and public[0][4] == "-"
    documented = documented_secrets([r for r in rows if r[0] != "all"], 1, 4)
    assert sorted(documented) == sorted(builtin_model_names())
    for model in builtin_model_names():
        associations = load_model(model).dlms.associations
        assert [(a.client_sap, a.mechanism) for a in associations if a.mechanism == "none"] == [
            (16, "none")
        ]
        real = {sap: a.secret.decode() for sap, a in lls_associations(model).items() if a.secret}
        assert documented[model] == real, model


def test_dlms_md_gives_every_hls_association_as_served() -> None:
    """The HLS table (issue 12): SAP, association object, mechanism, suite, policy and
    rights of every secured association, as the built devices serve them."""
    rows = table_rows((DOCS / "dlms.md").read_text(), "model | HLS client SAP")
    documented = {(r[0], saps(r[1])[0]): r[2:] for r in rows}
    served = {}
    for model_name in builtin_model_names():
        model = load_model(model_name)
        device = build_logical_device(model, Meter(model.spec, 0, "1"), lambda: None)
        for spec in model.dlms.associations:
            policy = device.association_policy(spec.client_sap)
            material = device.security_material(policy) if policy else None
            if policy is None or material is None:
                continue
            served[(model_name, spec.client_sap)] = [
                str(policy.logical_name),
                f"{'HLS-GMAC' if spec.mechanism == 'hls-gmac' else 'HLS-ECDSA'}"
                f" ({int(policy.mechanism)})",
                str(material.suite),
                f"0x{int(material.policy):02X}",
                spec.rights,
            ]
    assert set(documented) == set(served)
    for key, cells in documented.items():
        obis, mechanism, suite, policy, rights = cells
        assert [obis, mechanism, suite.split()[0], policy, rights] == served[key], key


def test_prepayment_md_names_the_token_associations_with_the_secrets_of_dlms_md() -> None:
    rows = table_rows((DOCS / "prepayment.md").read_text(), "model | client SAP")
    documented = documented_secrets(rows, 1, 2)
    wallets = [m for m in builtin_model_names() if load_model(m).spec.wallet is not None]
    assert sorted(documented) == sorted(wallets)
    in_dlms_md = documented_secrets(
        [
            r
            for r in table_rows((DOCS / "dlms.md").read_text(), "model | client SAP")
            if r[0] != "all"
        ],
        1,
        4,
    )
    for model in wallets:
        allowed = {
            sap: a.secret.decode()
            for sap, a in lls_associations(model).items()
            if a.rights in METHOD_RIGHTS and a.secret
        }
        assert documented[model] == allowed, model
        for sap, secret in documented[model].items():
            assert in_dlms_md[model][sap] == secret, (model, sap)


def test_prepayment_md_lists_as_not_yet_only_what_is_missing() -> None:
    """The limiter acts on the token's power limit (tests/meter/test_supervision.py::
    test_the_power_limit_token_value_drives_a_limiter_that_follows_it), so "Not yet" must
    not say otherwise, and the token section says what the limit does."""
    text = (DOCS / "prepayment.md").read_text()
    not_yet = text.split("## Not yet", 1)[1].split("\n## ", 1)[0]
    assert "limit" not in not_yet.lower()
    assert "threshold of the limiter `0.0.17.0.0.255`" in " ".join(text.split())


# -- docs/dlms.md "Limits": the documented settings and defaults are the code's (issue 19) --

LIMIT_SETTINGS: dict[str, Callable[[DeviceModel], int]] = {
    "[dlms] inactivity_timeout_s": lambda m: m.dlms.inactivity_timeout_s,
    "[dlms] frame_timeout_s": lambda m: m.dlms.frame_timeout_s,
    "[dlms] max_connections": lambda m: m.dlms.max_connections,
    "[dlms] lockout_failures": lambda m: m.spec.security.max_failures,
    "[dlms] lockout_minutes": lambda m: m.spec.security.lockout_s // 60,
    "[prepayment] keypad_lockout_failures": lambda m: m.spec.token_entry.lockout_failures,
    "[prepayment] keypad_lockout_seconds": lambda m: m.spec.token_entry.lockout_s,
}


def limits() -> dict[str, tuple[str, int, dict[str, int]]]:
    """limit -> (setting, default, {model: its value}) as the Limits table states them."""
    table = {}
    for limit, setting, default, _effect in table_rows(
        (DOCS / "dlms.md").read_text(), "limit | setting"
    ):
        number = re.match(r"(\d+)", default)
        assert number is not None, (limit, default)
        per_model = {m: int(v) for m, v in re.findall(r"([a-z][\w-]*\d*): (\d+)", default)}
        table[limit] = (setting.replace("`", ""), int(number.group(1)), per_model)
    return table


def model_without(setting: str, tmp_path: Path) -> DeviceModel:
    """pmm1220 with ``setting`` deleted from its file: what the loader gives by default."""
    section, key = setting.split()
    text = load_model("pmm1220").text
    head, found, rest = text.partition(f"\n{section}\n")
    assert found, section
    body, next_section, tail = rest.partition("\n[")
    body = re.sub(rf"(?m)^{key}\s*=.*\n?", "", body)
    path = tmp_path / f"without-{key}.toml"
    path.write_text(head + found + body + next_section + tail)
    return load_model(str(path))


def test_the_documented_limits_are_the_loaders_defaults_and_the_models_values(
    tmp_path: Path,
) -> None:
    documented = limits()
    settings = {
        setting: (default, per_model) for setting, default, per_model in documented.values()
    }
    assert set(LIMIT_SETTINGS) <= set(settings), "a configurable limit is not documented"
    for setting, read in LIMIT_SETTINGS.items():
        default, per_model = settings[setting]
        assert read(model_without(setting, tmp_path)) == default, setting
        for model in builtin_model_names():
            loaded = load_model(model)
            if setting.startswith("[prepayment]") and loaded.spec.wallet is None:
                continue
            assert read(loaded) == per_model.get(model, default), (setting, model)


def test_the_documented_fixed_limits_are_what_the_meter_runs_with() -> None:
    """The frame length bound and the burst window, and the TCP server's own defaults, which
    `metertwin run` takes from the model (cli.tcp_settings)."""
    documented = limits()
    server = tcp_settings(load_model("pmm1220").dlms)
    assert documented["frame length"][1] == server.frame_length_limit
    assert documented["event bursts"][1] * 60_000 == BURST_MS
    bare = TcpServerSettings()
    assert documented["inactivity"][1] == bare.inactivity_timeout_s
    assert documented["frame completion"][1] == bare.frame_timeout_s
    assert documented["connections at once"][1] == bare.max_connections
    assert tcp_settings(load_model("metercom-pro").dlms).max_connections == 1
