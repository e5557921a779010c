"""Green Book example keys and system titles shared by the security tests.

Source: Green Book HLS-GMAC example (Table 43), as quoted in /work/shared/reference/dlms.md 3.5.
"""

from __future__ import annotations

from metertwin.security.ciphering import CipheringKeys

BLOCK_CIPHER_KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AUTHENTICATION_KEY = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
CLIENT_SYSTEM_TITLE = bytes.fromhex("4D4D4D0000000001")
SERVER_SYSTEM_TITLE = bytes.fromhex("4D4D4D0000BC614E")
GREEN_BOOK_KEYS = CipheringKeys(AUTHENTICATION_KEY, global_unicast_key=BLOCK_CIPHER_KEY)
