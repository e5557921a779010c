"""Shared fixtures: built-in models and small helpers for exact register checks."""

from __future__ import annotations

import pytest

from metertwin.models import DeviceModel, load_model


@pytest.fixture(scope="session")
def az3p() -> DeviceModel:
    return load_model("az3p")


@pytest.fixture(scope="session")
def pmm1220() -> DeviceModel:
    return load_model("pmm1220")
