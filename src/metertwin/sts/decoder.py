"""The meter's STS token rules: which decoded tokens it takes and what taking one changes.

Pure: no I/O, no wall clock. `StsDecoder.check` decodes a token and applies every rule that does
not depend on the wallet, changing nothing; the meter then runs its own checks (Overflow) and
calls `StsDecoder.accept`, which remembers the TID or holds the key change section. Accepting
computes the whole new state first and swaps it in at the end, so a refusal changes nothing.

Sources (public; IEC 62055-41 itself is not freely available, clause numbers are of the 2018
edition as quoted by the pages named):

- [7.3.7] IEC 62055-41 7.3.7 TokenValidation (bilingual excerpt, http://xdnf.cn/news/17049.html):
  class 0 and class 2 tokens are validated against their TID, except the key change set, which
  is validated once complete (8.2); Old = TID smaller than the smallest TID in the memory store;
  Used = TID already in the store; the KEN also applies to class 0 and 2 except key changes.
- [KEN] https://www.sts.org.za/key-expiry-number-ken.html: a token whose TID has its 8 most
  significant bits above the meter's KEN is rejected (KEN 0xFF never expires).
- [6.5.2] IEC 62055-41 6.5.2 (http://mrgr.cn/news/57868.html): a meter holding a DITK is changed
  to a DDTK, DUTK or DCTK; apart from DITK, keys are only introduced by key management.
- [6.5.2.3.4] DUTK (https://codetd.com/article/17414680): loaded under a parent DITK or DUTK;
  a DUTK is the parent only of another DUTK or of a DDTK.
- [6.5.2.3.5] DCTK (https://codetd.com/article/17414666): only for magnetic card meters (TCT 01);
  meters with any other token carrier reject tokens under a DCTK.
- [6.5.2.6] key expiry applies to DDTK, DUTK and DCTK decoder keys, not DITK; an expired key can
  still carry its replacement (summary of the clause, https://blog.csdn.net/huaqianzkh/category_12484618.html).
- [rollover] https://www.sts.org.za/tid-rollover.html: key change tokens with the rollover bit set
  move the meter to the next base date, reset its TID store and install a new key.
- reference/sts.md (project notes): a DDTK meter refuses credit tokens.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from metertwin.sts.anatomy import MAX_TID, BaseDate, TokenClass
from metertwin.sts.codec import apply_key_change, decode_token
from metertwin.sts.ea07 import Ea07Tables
from metertwin.sts.errors import Rejection, TokenRejected
from metertwin.sts.keys import Dkga, EncryptionAlgorithm, KeyType, MeterKey
from metertwin.sts.tokens import (
    CreditToken,
    KeyChangeSection1,
    KeyChangeSection2,
    KeyChangeSection3,
    KeyChangeSection4,
    KeyChangeToken,
    MeterTestToken,
    ReservedToken,
    Token,
    token_from_payload,
)

MIN_TID_CAPACITY = 50
"""The smallest TID store metertwin builds: the meter remembers at least 50 TIDs."""

STATE_VERSION = 1

_T = TypeVar("_T")

KEY_CHANGES: Mapping[KeyType, frozenset[KeyType]] = {
    KeyType.DITK: frozenset({KeyType.DDTK, KeyType.DUTK}),
    KeyType.DDTK: frozenset({KeyType.DDTK, KeyType.DUTK}),
    KeyType.DUTK: frozenset({KeyType.DUTK, KeyType.DDTK}),
}
"""The key type a meter may move to by key change tokens, by the key type it holds.

DITK -> DDTK or DUTK [6.5.2]; DUTK -> DUTK or DDTK [6.5.2.3.4]; DDTK -> DUTK or DDTK is
metertwin's inference (the DDTK clause is not publicly quoted; a meter delivered with the
default key is moved to the utility's key at installation). No key change installs a DITK
[6.5.2], and none installs a DCTK: metertwin is a keypad/virtual token carrier meter, never a
magnetic card one [6.5.2.3.5]. Anything else is refused with KeyType.
"""


def _check_tid(tid: int) -> None:
    if isinstance(tid, bool) or not isinstance(tid, int) or not 0 <= tid <= MAX_TID:
        raise ValueError(f"TID {tid!r} is not a 24-bit value")


class TidStore:
    """The TIDs the meter remembers, to refuse a token entered twice (IEC 62055-41 7.3.7/7.3.8).

    Holds at most `capacity` TIDs (at least 50). TIDs count minutes, so the oldest TID is the
    smallest: when the store is full, remembering a new TID forgets the smallest one.

    Old rule: [7.3.7] refuses a TID smaller than the smallest remembered one. metertwin applies
    it only once the store is full. Until then every TID accepted since the last reset is still
    remembered, so a TID not in the store has never been used and an older, unused token (bought
    earlier, entered later) is accepted. Once full, the store has forgotten TIDs below its
    smallest, so anything below the smallest is Old. Either way no token is ever taken twice.
    """

    def __init__(self, capacity: int = MIN_TID_CAPACITY, tids: Iterable[int] = ()) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise ValueError(f"TID store capacity {capacity!r} is not an integer")
        if capacity < MIN_TID_CAPACITY:
            raise ValueError(f"TID store capacity {capacity} is below {MIN_TID_CAPACITY}")
        remembered = set()
        for tid in tids:
            _check_tid(tid)
            remembered.add(tid)
        self._capacity = capacity
        # Sorted, unique; a store given more TIDs than it holds keeps the newest.
        self._tids: list[int] = sorted(remembered)[-capacity:]

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def tids(self) -> tuple[int, ...]:
        """The remembered TIDs, smallest (oldest) first."""
        return tuple(self._tids)

    @property
    def full(self) -> bool:
        return len(self._tids) >= self._capacity

    def __len__(self) -> int:
        return len(self._tids)

    def __contains__(self, tid: object) -> bool:
        if not isinstance(tid, int):
            return False
        index = bisect.bisect_left(self._tids, tid)
        return index < len(self._tids) and self._tids[index] == tid

    def __repr__(self) -> str:
        return f"TidStore(capacity={self._capacity}, tids={self._tids!r})"

    def check(self, tid: int) -> None:
        """Refuse a TID already remembered (Used) or below the smallest of a full store (Old)."""
        _check_tid(tid)
        if tid in self:
            raise TokenRejected(Rejection.USED, f"TID {tid} was used before")
        if self.full and tid < self._tids[0]:
            raise TokenRejected(
                Rejection.OLD, f"TID {tid} is older than the oldest remembered TID {self._tids[0]}"
            )

    def remember(self, tid: int) -> None:
        """Remember `tid`; a full store forgets its smallest TID (a no-op for a known TID)."""
        _check_tid(tid)
        if tid in self:
            return
        bisect.insort(self._tids, tid)
        if len(self._tids) > self._capacity:
            del self._tids[0]

    def clear(self) -> None:
        """Forget every TID (the TID rollover key change resets the store)."""
        self._tids.clear()

    def copy(self) -> TidStore:
        return TidStore(self._capacity, self._tids)


@dataclass(frozen=True)
class KeyChangeResult:
    """What accepting one key change section did.

    `complete` is False while sections are still `missing` (class 2 subclasses); once complete,
    `new_key` is the key now installed and `rolled_over` says whether the base date moved on
    and the TID store was reset.
    """

    complete: bool
    missing: frozenset[int]
    new_key: MeterKey | None
    rolled_over: bool


@dataclass(frozen=True)
class _Outcome:
    """The decoder state that accepting a token leaves, computed before anything changes."""

    key: MeterKey
    tids: TidStore
    pending: dict[int, KeyChangeToken]
    result: KeyChangeResult | None


def _needed_sections(pending: Mapping[int, KeyChangeToken]) -> frozenset[int]:
    """The subclasses a key change set needs, as far as the sections held tell.

    Section 1's 3KCT bit says whether sections 3 and 4 (subclasses 8, 9) belong to the set.
    Before section 1 arrives, a section 3 or 4 already held means a 128-bit change.
    """
    section1 = pending.get(3)
    if isinstance(section1, KeyChangeSection1):
        wide = section1.kct3
    else:
        wide = bool({8, 9} & pending.keys())
    return frozenset({3, 4, 8, 9} if wide else {3, 4})


def _check_pending(pending: Iterable[KeyChangeToken]) -> dict[int, KeyChangeToken]:
    held: dict[int, KeyChangeToken] = {}
    for section in pending:
        if not isinstance(
            section, (KeyChangeSection1, KeyChangeSection2, KeyChangeSection3, KeyChangeSection4)
        ):
            raise ValueError(f"{section!r} is not a key change section")
        if section.subclass in held and held[section.subclass] != section:
            raise ValueError(f"two different pending key change sections {section.subclass}")
        held[section.subclass] = section
    if held and not _needed_sections(held) - held.keys():
        raise ValueError("a complete key change set cannot be pending")
    return held


class StsDecoder:
    """The meter side of STS: its decoder key, its TID store and the key change sections held.

    Rules, in the order they are applied to a decoded token:

    1. Class 1 (test/display) tokens are not encrypted and carry no TID: always accepted, they
       change nothing here.
    2. Reserved class/subclass tokens: Function.
    3. Key change sections (class 2 subclasses 3, 4, 8, 9) carry no TID and are not checked
       against the TID store or the KEN [7.3.7]; an expired key still carries its replacement
       [6.5.2.6]. They are held until the set is complete (any order), then validated [7.3.7,
       8.2] and the new key installed; see `accept`.
    4. DDTK: a meter holding a default key refuses class 0 credit (reference/sts.md).
    5. TID store: Used, then Old (see `TidStore`) [7.3.7].
    6. Key expired: TID bits 23-16 above the KEN [KEN], for every key type but DITK [6.5.2.6].

    The Overflow rule depends on the credit registers and is the meter's. No public text was
    found on credit under a DITK, so no rule beyond these applies to it.

    A DCTK is refused at construction: metertwin is a keypad/virtual token carrier meter and
    such meters reject every token under a DCTK [6.5.2.3.5].
    """

    def __init__(
        self,
        key: MeterKey,
        *,
        tid_capacity: int = MIN_TID_CAPACITY,
        tids: Iterable[int] = (),
        pending: Iterable[KeyChangeToken] = (),
        ea07_tables: Ea07Tables | None = None,
    ) -> None:
        """`ea07_tables` are for a future 64-bit (EA07) key; default: the key's own tables."""
        if key.key_type is KeyType.DCTK:
            raise ValueError(
                "a DCTK is for magnetic card meters only (IEC 62055-41 6.5.2.3.5); "
                "metertwin's token carrier is a keypad"
            )
        self._key = key
        self._tids = TidStore(tid_capacity, tids)
        self._pending = _check_pending(pending)
        self._ea07_tables = ea07_tables if ea07_tables is not None else key.ea07_tables

    # --- state ---------------------------------------------------------------------------------

    @property
    def key(self) -> MeterKey:
        """The decoder key in use."""
        return self._key

    @property
    def tids(self) -> TidStore:
        """The remembered TIDs."""
        return self._tids

    @property
    def pending(self) -> tuple[KeyChangeToken, ...]:
        """The key change sections held until the set is complete, by subclass."""
        return tuple(self._pending[subclass] for subclass in sorted(self._pending))

    @property
    def ea07_tables(self) -> Ea07Tables | None:
        """The tables a 64-bit key installed by key change will use."""
        return self._ea07_tables

    # --- rules ---------------------------------------------------------------------------------

    def check(self, digits: str) -> Token:
        """The token `digits` carry, if the rules accept it; nothing changes.

        Raises `TokenFormatError` or `TokenCrcError` (from `decode_token`) or `TokenRejected`.
        """
        token = decode_token(digits, self._key)
        self._plan(token)
        return token

    def accept(self, token: Token) -> KeyChangeResult | None:
        """Apply `token`, which the meter has decided to take (after its own wallet checks).

        Remembers the TID of a token that carries one. A key change section is held pending; a
        repeated identical section changes nothing, and a different section with the same
        subclass replaces the held one (the most recent key change wins: the vending side may
        have reissued the set). When the set is complete, the new key is installed and the
        pending set cleared; with the rollover bit the key moves to the next base date and the
        TID store is reset [rollover]. Sections 8 and 9 left over from another set are dropped
        when a 64-bit set completes. Returns a `KeyChangeResult` for a key change section, None
        otherwise.

        The rules are applied again, so a token that would be refused raises `TokenRejected`
        and nothing changes: the new state is computed in full, then swapped in.
        """
        outcome = self._plan(token)
        if outcome is None:
            return None
        self._key, self._tids, self._pending = outcome.key, outcome.tids, outcome.pending
        return outcome.result

    def _plan(self, token: Token) -> _Outcome | None:
        """The state accepting `token` leaves (None: nothing changes), or `TokenRejected`."""
        if isinstance(token, MeterTestToken):
            return None
        if isinstance(token, ReservedToken):
            raise TokenRejected(
                Rejection.FUNCTION,
                f"class {int(token.token_class)} subclass {token.subclass} is not supported",
            )
        if isinstance(
            token, (KeyChangeSection1, KeyChangeSection2, KeyChangeSection3, KeyChangeSection4)
        ):
            return self._plan_key_change(token)
        if isinstance(token, CreditToken) and self._key.key_type is KeyType.DDTK:
            raise TokenRejected(Rejection.DDTK, "a meter with a default key (DDTK) takes no credit")
        self._tids.check(token.tid)
        if self._key.key_type is not KeyType.DITK and token.tid >> 16 > self._key.ken:
            raise TokenRejected(
                Rejection.KEY_EXPIRED,
                f"TID {token.tid} is beyond the key expiry number {self._key.ken}",
            )
        tids = self._tids.copy()
        tids.remember(token.tid)
        return _Outcome(self._key, tids, self._pending, None)

    def _plan_key_change(self, section: KeyChangeToken) -> _Outcome:
        pending = dict(self._pending)
        pending[section.subclass] = section
        needed = _needed_sections(pending)
        missing = needed - pending.keys()
        if missing:
            result = KeyChangeResult(
                complete=False, missing=missing, new_key=None, rolled_over=False
            )
            return _Outcome(self._key, self._tids, pending, result)
        sections = {subclass: pending[subclass] for subclass in needed}
        new_key = self._new_key(sections)
        section1 = sections[3]
        assert isinstance(section1, KeyChangeSection1)
        rolled_over = section1.rollover
        tids = TidStore(self._tids.capacity) if rolled_over else self._tids
        result = KeyChangeResult(
            complete=True, missing=frozenset(), new_key=new_key, rolled_over=rolled_over
        )
        return _Outcome(new_key, tids, {}, result)

    def _new_key(self, sections: Mapping[int, KeyChangeToken]) -> MeterKey:
        """The key a complete set installs, or the KeyType/Range rejection [7.3.7, 8.2]."""
        section1 = sections[3]
        section2 = sections[4]
        assert isinstance(section1, KeyChangeSection1)
        assert isinstance(section2, KeyChangeSection2)
        old = self._key
        new_type = KeyType(section1.key_type)
        if new_type not in KEY_CHANGES.get(old.key_type, frozenset()):
            raise TokenRejected(
                Rejection.KEY_TYPE,
                f"a meter holding a {old.key_type.name} cannot take a {new_type.name}",
            )
        if not section1.kct3 and self._ea07_tables is None:
            raise TokenRejected(
                Rejection.KEY_TYPE, "a 64-bit (EA07) key needs EA07 tables this meter does not have"
            )
        if not 1 <= section1.krn <= 9:
            raise TokenRejected(Rejection.RANGE, f"KRN {section1.krn} is not 1..9")
        if section2.ti > 99:
            raise TokenRejected(Rejection.RANGE, f"TI {section2.ti} is not a 2-digit number")
        if section1.kct3:
            section3 = sections[8]
            section4 = sections[9]
            assert isinstance(section3, KeyChangeSection3)
            assert isinstance(section4, KeyChangeSection4)
            sgc = (section4.sgc_high << 12) | section3.sgc_low
            if sgc > 999_999:
                raise TokenRejected(Rejection.RANGE, f"SGC {sgc} is not a 6-digit number")
        if section1.rollover and old.base_date.successor is None:
            raise TokenRejected(
                Rejection.RANGE, f"no base date after {int(old.base_date)} to roll over to"
            )
        try:
            return apply_key_change(old, sections.values(), ea07_tables=self._ea07_tables)
        except ValueError as error:  # a combination the checks above did not foresee
            raise TokenRejected(Rejection.RANGE, f"key change refused: {error}") from error

    # --- persistence ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """The decoder's state as JSON-ready data (the decoder key as hex; no EA07 tables)."""
        key = self._key
        return {
            "version": STATE_VERSION,
            "key": {
                "iin": key.iin,
                "drn": key.drn,
                "key_type": int(key.key_type),
                "sgc": key.sgc,
                "ti": key.ti,
                "krn": key.krn,
                "ken": key.ken,
                "base_date": int(key.base_date),
                "ea": key.ea.value,
                "dkga": key.dkga.value,
                "decoder_key": key.decoder_key.hex(),
            },
            "tid_capacity": self._tids.capacity,
            "tids": list(self._tids.tids),
            "pending": [
                {"subclass": section.subclass, "payload": f"{section.payload():011x}"}
                for section in self.pending
            ],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, ea07_tables: Ea07Tables | None) -> StsDecoder:
        """The decoder `to_state` described; `ea07_tables` as the meter's configuration gives.

        Raises ValueError naming the field at fault.
        """
        if not isinstance(state, dict):
            raise ValueError("decoder state must be a table")
        if _field(state, "version", int) != STATE_VERSION:
            raise ValueError(f"decoder state: version must be {STATE_VERSION}")
        key_state = _field(state, "key", dict)
        try:
            key = MeterKey(
                iin=_field(key_state, "iin", str, "key."),
                drn=_field(key_state, "drn", str, "key."),
                key_type=KeyType(_field(key_state, "key_type", int, "key.")),
                sgc=_field(key_state, "sgc", int, "key."),
                ti=_field(key_state, "ti", int, "key."),
                krn=_field(key_state, "krn", int, "key."),
                ken=_field(key_state, "ken", int, "key."),
                base_date=BaseDate(_field(key_state, "base_date", int, "key.")),
                ea=EncryptionAlgorithm(_field(key_state, "ea", str, "key.")),
                dkga=Dkga(_field(key_state, "dkga", str, "key.")),
                decoder_key=bytes.fromhex(_field(key_state, "decoder_key", str, "key.")),
                ea07_tables=ea07_tables,
            )
        except ValueError as error:
            raise ValueError(f"decoder state: key: {error}") from error
        pending: list[KeyChangeToken] = []
        for index, entry in enumerate(_field(state, "pending", list)):
            where = f"pending[{index}]."
            if not isinstance(entry, dict):
                raise ValueError(f"decoder state: pending[{index}] must be a table")
            subclass = _field(entry, "subclass", int, where)
            try:
                payload = int(_field(entry, "payload", str, where), 16)
                token = token_from_payload(TokenClass.MANAGEMENT, subclass, payload)
            except ValueError as error:
                raise ValueError(f"decoder state: {where}payload: {error}") from error
            if not isinstance(
                token, (KeyChangeSection1, KeyChangeSection2, KeyChangeSection3, KeyChangeSection4)
            ):
                raise ValueError(f"decoder state: {where}subclass {subclass} is not a key change")
            pending.append(token)
        try:
            return cls(
                key,
                tid_capacity=_field(state, "tid_capacity", int),
                tids=_field(state, "tids", list),
                pending=pending,
                ea07_tables=ea07_tables,
            )
        except ValueError as error:
            raise ValueError(f"decoder state: {error}") from error


def _field(table: dict[str, Any], name: str, kind: type[_T], where: str = "") -> _T:
    """`table[name]` if it is a `kind`; ValueError naming the field otherwise."""
    if name not in table:
        raise ValueError(f"decoder state: missing {where}{name}")
    value = table[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"decoder state: {where}{name} must be {kind.__name__}")
    return value
