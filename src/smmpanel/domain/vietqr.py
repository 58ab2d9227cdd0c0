"""The VietQR payload: an EMVCo merchant-presented QR for a NAPAS 24/7 bank
transfer, the text any Vietnamese banking app reads from the code it scans.

Every field is ID (2 digits), length (2 digits), value. The layout built here:

    00 02 "01"                 payload format indicator
    01 02 "12"                 point of initiation: dynamic, one payment with its amount
    38 ..                      merchant account information, NAPAS template:
       00 10 "A000000727"          NAPAS GUID
       01 ..                       beneficiary organisation:
          00 06 BIN                    the bank's NAPAS BIN
          01 ..  account number
       02 08 "QRIBFTTA"            service: transfer to an account
    53 03 "704"                currency: VND (ISO 4217)
    54 ..  amount              whole dong
    58 02 "VN"                 country
    62 ..                      additional data: 08 .. purpose of transaction (the transfer content)
    63 04 CRC                  CRC16/CCITT-FALSE over everything before it, "6304" included

Pure: no I/O; the QR image is drawn by the caller.
"""

from __future__ import annotations

from .errors import InvalidField

NAPAS_GUID = "A000000727"
SERVICE_TO_ACCOUNT = "QRIBFTTA"
CURRENCY_VND = "704"
COUNTRY_VN = "VN"
POINT_OF_INITIATION_DYNAMIC = "12"
PAYLOAD_FORMAT = "01"
MAX_ACCOUNT_CHARS = 19  # NAPAS: account number, ans up to 19
MAX_PURPOSE_CHARS = 25  # template 62, purpose of transaction: up to 25
MAX_AMOUNT_DIGITS = 13  # field 54 holds at most 13 characters
MAX_FIELD_CHARS = 99  # a 2-digit length

# Short names of the banks most panels receive at, by NAPAS BIN (shown next
# to the BIN; an unlisted BIN is shown as the BIN alone).
BANK_NAMES = {
    "970436": "Vietcombank",
    "970418": "BIDV",
    "970415": "VietinBank",
    "970405": "Agribank",
    "970407": "Techcombank",
    "970422": "MB Bank",
    "970416": "ACB",
    "970432": "VPBank",
    "970423": "TPBank",
    "970403": "Sacombank",
}


def bank_label(bin: str) -> str:
    name = BANK_NAMES.get(bin)
    return f"{name} (BIN {bin})" if name else f"BIN {bin}"


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def field(tag: str, value: str) -> str:
    if len(value) > MAX_FIELD_CHARS:
        raise ValueError(f"EMVCo field {tag} is {len(value)} characters; at most {MAX_FIELD_CHARS} fit")
    return f"{tag}{len(value):02d}{value}"


def with_crc(body: str) -> str:
    """Append field 63: the CRC covers the body and the field's own ID and length."""
    head = body + "6304"
    return head + f"{crc16_ccitt_false(head.encode('ascii')):04X}"


def _printable_ascii(value: str) -> bool:
    return value.isascii() and all(32 <= ord(c) < 127 for c in value)


def payload(*, bin: str, account: str, amount_vnd: int, purpose: str) -> str:
    """The payload for transferring ``amount_vnd`` to ``account`` at the bank
    ``bin``, with ``purpose`` as the transfer content the app pre-fills."""
    if not (len(bin) == 6 and bin.isdigit()):
        raise InvalidField("bin", "vietqr_bin")
    if not (0 < len(account) <= MAX_ACCOUNT_CHARS and account.isascii() and account.isalnum()):
        raise InvalidField("account", "vietqr_account", max=MAX_ACCOUNT_CHARS)
    if isinstance(amount_vnd, bool) or not isinstance(amount_vnd, int) or amount_vnd <= 0 \
            or len(str(amount_vnd)) > MAX_AMOUNT_DIGITS:
        raise InvalidField("amount", "range", min=1, max=10**MAX_AMOUNT_DIGITS - 1)
    if not (0 < len(purpose) <= MAX_PURPOSE_CHARS and _printable_ascii(purpose)):
        raise InvalidField("purpose", "vietqr_purpose", max=MAX_PURPOSE_CHARS)
    beneficiary = field("00", bin) + field("01", account)
    merchant = field("00", NAPAS_GUID) + field("01", beneficiary) + field("02", SERVICE_TO_ACCOUNT)
    body = (
        field("00", PAYLOAD_FORMAT)
        + field("01", POINT_OF_INITIATION_DYNAMIC)
        + field("38", merchant)
        + field("53", CURRENCY_VND)
        + field("54", str(amount_vnd))
        + field("58", COUNTRY_VN)
        + field("62", field("08", purpose))
    )
    return with_crc(body)


def parse(text: str) -> dict[str, str]:
    """The top-level fields of a payload (nested templates stay text),
    after checking its CRC: for tests and for reading a scanned code back."""
    if len(text) < 8 or text[-8:-4] != "6304":
        raise ValueError("no CRC field (6304) at the end")
    if with_crc(text[:-8]) != text:
        raise ValueError("CRC mismatch")
    fields: dict[str, str] = {}
    i = 0
    while i < len(text):
        tag, size = text[i : i + 2], int(text[i + 2 : i + 4])
        fields[tag] = text[i + 4 : i + 4 + size]
        i += 4 + size
    return fields
