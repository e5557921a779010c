"""SMS configuration of the MeterCom PRO (seed 004 §4.2, `protocols/mcp_sms.py`): the
commands, replies and six error replies exactly as the manual prints them, the parameter
limits, brackets, 160 septets, GSM 03.38 only; a rendered command parses back; random text
never crashes and always gets one of the replies."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metertwin.protocols.mcp_sms import (
    ECHOED,
    GSM_BASIC,
    GSM_EXTENSION,
    OK,
    PARAMETERS,
    Command,
    ModuleInfo,
    SmsCommand,
    SmsError,
    SmsRefused,
    handle,
    parse,
    render,
    septets,
    settings_reply,
    valid_value,
)

# Seed 004 §4.2, "Information SMS": the manual's example reply.
MANUAL_INFO = ModuleInfo("11620371", "50-1008-0004", -57, "89.24.0.201", "GSM", "GPRS")
MANUAL_INFO_REPLY = "EM_ID=11620371 SN=50-1008-0004 SIG=-57dBm LIP=89.24.0.201 STAT=GSM TECH=GPRS"
# Seed 004 §4.2, "Configuration SMS": the manual's CNF example filled in with the values of
# its example reply, and that reply (the settings now in force; NPWD is never echoed).
MANUAL_CNF = (
    "MCP CNF PWD=HELLO APN=internet.t-mobile.cz; DUSR=internet;\n"
    "DPWD=; IP=10.0.25.30; PORT=58600; NPWD=HELLO; RINT=2;"
)
MANUAL_CNF_REPLY = "APN=internet.t-mobile.cz DUSR=internet DPWD= IP=10.0.25.30 PORT=58600 RINT=2"
DEFAULTS = {"APN": "internet", "DUSR": "", "DPWD": "", "IP": "127.0.0.1", "PORT": "4059"}


class FakeModule:
    """A module with the password HELLO, as it leaves the factory (seed 004)."""

    def __init__(self) -> None:
        self.password = "HELLO"
        self.values = dict(DEFAULTS, RINT="24")
        self.configured: list[dict[str, str]] = []

    def password_matches(self, password: str) -> bool:
        return password == self.password

    def configure(self, settings: Mapping[str, str]) -> None:
        self.configured.append(dict(settings))
        self.password = settings.get("NPWD", self.password)
        self.values.update({k: v for k, v in settings.items() if k != "NPWD"})

    def settings(self) -> dict[str, str]:
        return dict(self.values)

    def info(self) -> ModuleInfo:
        return MANUAL_INFO


def reply(text: str, module: FakeModule | None = None) -> str:
    return handle(text, module or FakeModule()).reply


def test_info_replies_as_the_manual_prints_it() -> None:
    assert reply("MCP INFO PWD=HELLO") == MANUAL_INFO_REPLY


def test_the_manuals_cnf_sets_every_parameter_and_echoes_as_the_manual_prints_it() -> None:
    module = FakeModule()
    outcome = handle(MANUAL_CNF, module)
    assert outcome.reply == MANUAL_CNF_REPLY
    assert outcome.configured and not outcome.reset
    assert module.configured == [
        {
            "APN": "internet.t-mobile.cz",
            "DUSR": "internet",
            "DPWD": "",
            "IP": "10.0.25.30",
            "PORT": "58600",
            "NPWD": "HELLO",
            "RINT": "2",
        }
    ]


def test_a_cnf_may_carry_one_parameter_as_the_manuals_tip_shows() -> None:
    module = FakeModule()
    assert reply("MCP CNF PWD=HELLO APN=new.apn", module).startswith("APN=new.apn DUSR= ")
    assert module.configured == [{"APN": "new.apn"}]


def test_reset_answers_ok_and_asks_for_the_restart() -> None:
    outcome = handle("MCP RESET PWD=HELLO", FakeModule())
    assert (outcome.reply, outcome.reset, outcome.configured) == (OK, True, False)
    assert OK == "OK"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("MCP STATUS PWD=HELLO", "Unknown command"),
        ("MCP info PWD=HELLO", "Unknown command"),  # "Upper/Lower Case must be respected"
        ("mcp INFO PWD=HELLO", "Unknown command"),
        ("MCX INFO PWD=HELLO", "Unknown command"),
        ("MCP", "Unknown command"),
        ("", "Unknown command"),
        ("MCP INFO", "Password missing"),
        ("MCP INFO PWD=", "Password missing"),
        ("MCP INFO PWD", "Password missing"),
        ("MCP CNF APN=x", "Password missing"),
        ("MCP INFO PWD=hello", "Password incorrect"),
        ("MCP RESET PWD=WRONG", "Password incorrect"),
        ("MCP CNF PWD=WRONG APN=x", "Password incorrect"),
        ("MCP CNF PWD=WRONG FOO=1", "Password incorrect"),  # nothing told without it
        ("MCP INFO PWD=HELLO APN=x", "Too many parameters"),
        ("MCP RESET PWD=HELLO NOW", "Too many parameters"),
        ("MCP CNF PWD=HELLO APN=a APN=b", "Too many parameters"),
        ("MCP CNF PWD=HELLO PWD=HELLO", "Too many parameters"),
        ("MCP CNF PWD=HELLO FOO=1", "Unknown parameter"),
        ("MCP CNF PWD=HELLO apn=x", "Unknown parameter"),
        ("MCP CNF PWD=HELLO APN", "Unknown parameter"),
        ("MCP CNF PWD=HELLO RINT=25", "Parameter value incorrect"),
        ("MCP CNF PWD=HELLO APN=(my apn", "Parameter value incorrect"),
    ],
)
def test_the_six_error_replies_word_for_word(text: str, error: str) -> None:
    module = FakeModule()
    outcome = handle(text, module)
    assert outcome.reply == error
    assert outcome.error is SmsError(error)
    assert module.configured == [] and not outcome.reset and not outcome.configured


def test_the_error_replies_are_the_manuals_six() -> None:
    assert [e.value for e in SmsError] == [
        "Unknown command",
        "Password missing",
        "Password incorrect",
        "Too many parameters",
        "Unknown parameter",
        "Parameter value incorrect",
    ]


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("RINT", ["0", "1", "24"], ["25", "-1", "", "2h", "1.5", "０"]),
        ("PORT", ["1", "4059", "65535"], ["0", "65536", "", "port", "+80"]),
        ("IP", ["10.0.25.30", "89.24.0.201"], ["server.example", "10.0.25", "0.0.0.0", "::1"]),
        ("APN", ["internet", "a" * 50, "my apn"], ["", "a" * 51, "apné"]),
        ("DUSR", ["", "internet", "u" * 24], ["u" * 25]),
        ("DPWD", ["", "secret"], ["p" * 25]),
        ("NPWD", ["X", "p" * 64], ["", "p" * 65]),
    ],
)
def test_parameter_limits(name: str, good: list[str], bad: list[str]) -> None:
    assert all(valid_value(name, value) for value in good)
    assert not any(valid_value(name, value) for value in bad)
    for value in bad:
        text = f"MCP CNF PWD=HELLO {name}=({value})"
        if septets(text) is not None:
            assert reply(text) == "Parameter value incorrect", value


def test_a_value_with_a_space_is_closed_in_brackets() -> None:
    module = FakeModule()
    assert reply("MCP CNF PWD=HELLO APN=(my apn) DUSR=(a b);", module).startswith(
        "APN=(my apn) DUSR=(a b) DPWD= "
    )
    assert module.configured == [{"APN": "my apn", "DUSR": "a b"}]
    assert reply("MCP CNF PWD=HELLO APN=my apn") == "Unknown parameter"  # "apn" alone
    assert reply("MCP CNF PWD=HELLO APN=(my)apn") == "Parameter value incorrect"


def test_a_password_may_be_bracketed_too() -> None:
    module = FakeModule()
    handle("MCP CNF PWD=HELLO NPWD=(two words)", module)
    assert reply("MCP INFO PWD=(two words)", module) == MANUAL_INFO_REPLY
    assert reply("MCP INFO PWD=HELLO", module) == "Password incorrect"


def test_at_most_160_septets_and_the_extension_table_counts_twice() -> None:
    head = "MCP CNF PWD=HELLO APN="
    exactly = head + "a" * (160 - len(head))
    assert septets(exactly) == 160
    longer = exactly + "a"
    assert reply(longer) == "Unknown command"
    # 2 septets each (3GPP TS 23.038 §6.2.1.1): 159 characters are 160 septets with one '|'
    assert septets("|") == 2 and septets(exactly[:-2] + "|") == 160
    assert reply(exactly[:-1] + "|") == "Unknown command"  # 161 septets
    assert septets("a" * 160) == 160


@pytest.mark.parametrize("char", ["ž", "č", "ř", "ě", "ů", "\u00e1", "`", "\t", "😀", "\x00"])
def test_characters_outside_gsm_03_38_are_refused(char: str) -> None:
    """Czech diacritics would go as UCS-2 ("marks them as errors", seed 004)."""
    assert septets(char) is None
    assert reply(f"MCP INFO PWD=HELLO{char}") == "Unknown command"
    assert reply(f"MCP CNF PWD=HELLO APN=x{char}") == "Unknown command"


def test_ucs2_and_a_user_data_header_are_refused() -> None:
    assert handle("MCP INFO PWD=HELLO", FakeModule(), coding="ucs2").reply == "Unknown command"
    concatenated = bytes.fromhex("050003010201")  # IEI 00: part 1 of 2 (3GPP TS 23.040 9.2.3.24.1)
    outcome = handle("MCP INFO PWD=HELLO", FakeModule(), udh=concatenated)
    assert outcome.reply == "Unknown command"


def test_gsm_characters_that_are_not_ascii_pass_the_charset_but_not_a_value() -> None:
    assert septets("éàñ€") == 5
    assert reply("MCP CNF PWD=HELLO APN=intérnet") == "Parameter value incorrect"


def test_the_gsm_tables_have_their_sizes() -> None:
    assert len(GSM_BASIC) == 128 and GSM_BASIC[0x1B] == "\x1b" and GSM_BASIC[0x41] == "A"
    assert len(GSM_EXTENSION) == 10


# -- properties -------------------------------------------------------------------------

_PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)


def _value(name: str) -> st.SearchStrategy[str]:
    if name == "IP":
        return st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
    if name == "PORT":
        return st.integers(1, 65535).map(str)
    if name == "RINT":
        return st.integers(0, 24).map(str)
    return _PRINTABLE


@st.composite
def commands(draw: st.DrawFn) -> SmsCommand:
    command = draw(st.sampled_from(Command))
    password = draw(_PRINTABLE.filter(lambda p: p != ""))
    settings: tuple[tuple[str, str], ...] = ()
    if command is Command.CNF:
        names = draw(st.lists(st.sampled_from(PARAMETERS), unique=True))
        settings = tuple((name, draw(_value(name))) for name in names)
    return SmsCommand(command, password, settings)


def _readable(value: str) -> bool:
    """Brackets cannot carry a ')' in a value that needs them."""
    needs = " " in value or value.startswith("(") or value.endswith(";")
    return not (needs and ")" in value)


@given(commands())
@settings(max_examples=300)
def test_a_rendered_command_parses_back(command: SmsCommand) -> None:
    values = [command.password, *(v for _n, v in command.settings)]
    text = render(command)
    valid = all(valid_value(n, v) for n, v in command.settings)
    if not all(_readable(v) for v in values) or septets(text) is None or len(text) > 160:
        return
    if valid:
        assert parse(text) == command
    else:
        with pytest.raises(SmsRefused) as refused:
            parse(text)
        assert refused.value.error is SmsError.PARAMETER_VALUE_INCORRECT


@given(st.fixed_dictionaries({name: _value(name) for name in ECHOED}))
def test_the_cnf_echo_of_valid_settings_reads_back_as_those_settings(
    values: dict[str, str],
) -> None:
    if not all(valid_value(n, v) and _readable(v) for n, v in values.items()):
        return
    echo = settings_reply(values)
    if septets(echo) is None:  # a '`' is printable ASCII but not GSM 03.38
        return
    assert parse(f"MCP CNF PWD=x {echo}").settings == tuple((n, values[n]) for n in ECHOED)


_REPLIES = {e.value for e in SmsError} | {OK, MANUAL_INFO_REPLY}
_ALPHABET = st.sampled_from(
    [*GSM_BASIC.replace("\x1b", ""), *GSM_EXTENSION, "ž", "\t", "😀", " ", "=", "(", ")"]
)
_WORDS = st.sampled_from(
    ["MCP", "INFO", "CNF", "RESET", "PWD=HELLO", "PWD=", "APN=", "RINT=", "PORT=", "IP=",
     "NPWD=", "DUSR=", "DPWD=", "(", ")", ";", " ", "\n", "=", "1", "x"]
)  # fmt: skip


@given(
    st.one_of(
        st.text(_ALPHABET, max_size=200),
        st.lists(_WORDS, max_size=40).map("".join),
        st.lists(_WORDS, max_size=40).map(" ".join),
    )
)
@settings(max_examples=1500)
def test_random_text_never_crashes_and_gets_one_of_the_replies(text: str) -> None:
    module = FakeModule()
    before = module.settings()
    outcome = handle(text, module)
    if outcome.error is not None:
        assert outcome.reply in _REPLIES and module.configured == []
        assert module.settings() == before
    elif outcome.configured or module.configured:
        assert outcome.reply.startswith("APN=") and len(module.configured) == 1
    else:
        assert outcome.reply in _REPLIES or outcome.reply.startswith("APN=")
