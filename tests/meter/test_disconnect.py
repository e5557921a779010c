"""Disconnect control (class 70) transitions per control mode (reference/dlms.md)."""

from __future__ import annotations

import pytest

from metertwin.meter.disconnect import (
    ControlState,
    DisconnectControl,
    Transition,
    TransitionNotAllowed,
)

C, D, R = ControlState.CONNECTED, ControlState.DISCONNECTED, ControlState.READY_FOR_RECONNECTION
T = Transition


def test_mode_0_is_always_connected_and_refuses_everything() -> None:
    control = DisconnectControl(0)
    for transition in Transition:
        with pytest.raises(TransitionNotAllowed):
            control.apply(transition, 0)
    assert control.state is C and control.output_state


@pytest.mark.parametrize("mode", [1, 3, 5, 6])
def test_remote_reconnect_goes_via_ready_then_the_customer_presses_the_button(mode: int) -> None:
    control = DisconnectControl(mode)
    assert control.apply(T.REMOTE_DISCONNECT, 1) is not None
    assert control.state is D and not control.output_state
    control.apply(T.REMOTE_RECONNECT, 2)
    assert control.state is R and not control.output_state
    control.apply(T.MANUAL_RECONNECT, 3)
    assert control.state is C and control.output_state


@pytest.mark.parametrize("mode", [2, 4])
def test_remote_reconnect_is_direct_in_modes_2_and_4(mode: int) -> None:
    control = DisconnectControl(mode)
    control.apply(T.REMOTE_DISCONNECT, 1)
    control.apply(T.REMOTE_RECONNECT, 2)
    assert control.state is C


@pytest.mark.parametrize(
    ("mode", "allowed"), [(1, True), (2, True), (3, False), (4, False), (5, True), (6, False)]
)
def test_manual_disconnect_only_where_the_mode_allows(mode: int, allowed: bool) -> None:
    control = DisconnectControl(mode)
    if allowed:
        control.apply(T.MANUAL_DISCONNECT, 1)
        assert control.state is R
    else:
        with pytest.raises(TransitionNotAllowed):
            control.apply(T.MANUAL_DISCONNECT, 1)
        assert control.state is C


@pytest.mark.parametrize(("mode", "allowed"), [(1, False), (4, False), (5, True), (6, True)])
def test_local_reconnect_only_in_modes_5_and_6(mode: int, allowed: bool) -> None:
    """Prepayment reconnects automatically when credit returns: local transition h."""
    control = DisconnectControl(mode)
    control.apply(T.LOCAL_DISCONNECT, 1)
    assert control.state is R
    if allowed:
        control.apply(T.LOCAL_RECONNECT, 2)
        assert control.state is C
    else:
        with pytest.raises(TransitionNotAllowed):
            control.apply(T.LOCAL_RECONNECT, 2)
        assert control.state is R


def test_remote_disconnect_from_ready_and_no_ops_report_no_change() -> None:
    control = DisconnectControl(1)
    assert control.apply(T.MANUAL_RECONNECT, 1) is None  # already connected
    control.apply(T.LOCAL_DISCONNECT, 2)
    change = control.apply(T.REMOTE_DISCONNECT, 3)
    assert change is not None and (change.before, change.after) == (R, D)
    assert control.apply(T.REMOTE_DISCONNECT, 4) is None


def test_operations_count_contact_movements_and_history_keeps_ten() -> None:
    control = DisconnectControl(2)
    for i in range(12):
        control.apply(T.REMOTE_DISCONNECT, 2 * i)
        control.apply(T.REMOTE_RECONNECT, 2 * i + 1)
    assert control.operations == 24
    assert len(control.changes) == 10
    assert control.changes[-1].at_true_ms == 23
    restored = DisconnectControl.from_state(control.to_state())
    assert restored.to_state() == control.to_state()
