"""Keys shared by the STS tests: the public compliance-test identity and generated EA07 tables."""

from __future__ import annotations

from metertwin.sts import (
    BaseDate,
    Dkga,
    Ea07Tables,
    EncryptionAlgorithm,
    KeyType,
    MeterKey,
)

# NectarAPI/tokens-service compliance tests STS 531-1-0-02/04 (reference/sts.md).
VENDING_KEY_DKGA02 = bytes.fromhex("abababababababab")
VENDING_KEY_DKGA04 = bytes.fromhex("abababababababab949494949494949401234567")

TEST_TABLES = Ea07Tables.generate_for_tests(seed=2024)
OTHER_TABLES = Ea07Tables.generate_for_tests(seed=7)


def ea11_key(*, drn: str = "00000000000", base_date: BaseDate = BaseDate.Y1993) -> MeterKey:
    """The DKGA04/EA11 key of the public EA11 credit token vector."""
    return MeterKey.from_vending_key(
        VENDING_KEY_DKGA04,
        iin="600727",
        drn=drn,
        key_type=KeyType.DUTK,
        sgc=123457,
        ti=1,
        krn=1,
        base_date=base_date,
        ea=EncryptionAlgorithm.EA11,
        dkga=Dkga.DKGA04,
    )


def ea07_key(
    *,
    drn: str = "00000000000",
    tables: Ea07Tables = TEST_TABLES,
    base_date: BaseDate = BaseDate.Y1993,
) -> MeterKey:
    """A DKGA02/EA07 key (public DKGA02 identity) over metertwin's generated test tables."""
    return MeterKey.from_vending_key(
        VENDING_KEY_DKGA02,
        iin="600727",
        drn=drn,
        key_type=KeyType.DUTK,
        sgc=123456,
        ti=1,
        krn=1,
        base_date=base_date,
        ea=EncryptionAlgorithm.EA07,
        dkga=Dkga.DKGA02,
        ea07_tables=tables,
    )
