"""The VietQR payload builder, byte for byte against published payloads."""

import pytest

from smmpanel.domain.errors import InvalidField
from smmpanel.domain.vietqr import crc16_ccitt_false, parse, payload

# Published in the README of github.com/subiz/vietqr (a Go VietQR generator):
# 120,000 VND to VietinBank (BIN 970415) account 0011001932418, content
# "ung ho lu lut".
SUBIZ_EXAMPLE = (
    "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA"
    "530370454061200005802VN62170813ung ho lu lut6304C15C"
)
# Published in the README of github.com/xuannghia/vietnam-qr-pay (the npm
# package vietnam-qr-pay), its decoding example: 1,000 VND to BIN 970416
# account 257678859, content "Chuyen tien".
VIETNAM_QR_PAY_EXAMPLE = (
    "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA"
    "5303704540410005802VN62150811Chuyen tien6304BBB8"
)


def test_builds_the_subiz_example_byte_for_byte():
    built = payload(bin="970415", account="0011001932418", amount_vnd=120_000, purpose="ung ho lu lut")
    assert built == SUBIZ_EXAMPLE


def test_builds_the_vietnam_qr_pay_example_byte_for_byte():
    built = payload(bin="970416", account="257678859", amount_vnd=1000, purpose="Chuyen tien")
    assert built == VIETNAM_QR_PAY_EXAMPLE


def test_crc_is_ccitt_false():
    # The CRC catalogue's check value of CRC-16/CCITT-FALSE over "123456789".
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert f"{crc16_ccitt_false(SUBIZ_EXAMPLE[:-4].encode()):04X}" == "C15C"


def test_parse_reads_fields_and_rejects_a_bad_crc():
    fields = parse(VIETNAM_QR_PAY_EXAMPLE)
    assert (fields["00"], fields["01"], fields["53"], fields["54"], fields["58"]) == ("01", "12", "704", "1000", "VN")
    assert fields["38"] == "0010A0000007270123000697041601092576788590208QRIBFTTA"
    assert fields["62"] == "0811Chuyen tien"
    with pytest.raises(ValueError, match="CRC"):
        parse(VIETNAM_QR_PAY_EXAMPLE[:-1] + "9")
    with pytest.raises(ValueError, match="CRC"):
        parse(VIETNAM_QR_PAY_EXAMPLE.replace("54041000", "54049000"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bin": "97041"}, "bin"),
        ({"bin": "97041x"}, "bin"),
        ({"account": ""}, "account"),
        ({"account": "1" * 20}, "account"),
        ({"account": "12-34"}, "account"),
        ({"amount_vnd": 0}, "amount"),
        ({"amount_vnd": -5}, "amount"),
        ({"amount_vnd": 10**13}, "amount"),
        ({"amount_vnd": True}, "amount"),
        ({"purpose": "x" * 26}, "purpose"),
        ({"purpose": "nạp tiền"}, "purpose"),
    ],
)
def test_refuses_what_a_banking_app_would_reject(kwargs, field):
    args = {"bin": "970415", "account": "0011001932418", "amount_vnd": 50_000, "purpose": "SMMK7QX2M"} | kwargs
    with pytest.raises(InvalidField) as refused:
        payload(**args)
    assert refused.value.params["field"] == field
