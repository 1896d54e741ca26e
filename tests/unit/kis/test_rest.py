"""REST error shapes, models and request builders."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from backbone.kis.events import KST
from backbone.kis.rest import (
    CurrentPrice, RestError, approval_request, current_price_request, daily_chart_request, minute_chart_request,
    parse_approval, parse_current_price, parse_daily_chart, parse_minute_chart, parse_rest_body, parse_revoke,
    parse_token, revoke_request, token_request,
)

TOKEN = (
    '{\n\t"access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.xxx",\n'
    '\t"access_token_token_expired":"2023-12-22 08:16:59",\n\t"token_type":"Bearer",\n\t"expires_in":86400\n}'
)


def test_token_response_parsed_as_kst_and_secret_hidden():
    t = parse_token(200, TOKEN.encode())
    assert t.expires_in == 86400 and t.token_type == "Bearer"
    assert t.access_token_token_expired == datetime(2023, 12, 22, 8, 16, 59, tzinfo=KST)
    assert "eyJ0" not in repr(t) and "eyJ0" not in str(t)


def test_token_throttled_oauth_shape_403():
    e = parse_token(403, '{"error_description":"접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)","error_code":"EGW00133"}')
    assert e == RestError(403, "EGW00133", "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)") and e.retryable


@pytest.mark.parametrize("status", [200, 500])
def test_rate_limit_error_whatever_the_status(status):
    e = parse_rest_body(status, b'{"rt_cd":"1","msg_cd":"EGW00201","msg1":"\xec\xb4\x88\xeb\x8b\xb9 \xea\xb1\xb0\xeb\x9e\x98\xea\xb1\xb4\xec\x88\x98\xeb\xa5\xbc \xec\xb4\x88\xea\xb3\xbc\xed\x95\x98\xec\x98\x80\xec\x8a\xb5\xeb\x8b\x88\xeb\x8b\xa4."}')
    assert isinstance(e, RestError) and e.code == "EGW00201" and e.http_status == status
    assert e.message == "초당 거래건수를 초과하였습니다." and e.retryable


def test_expired_token_and_other_errors():
    e = parse_rest_body(500, {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."})
    assert e.code == "EGW00123"
    assert parse_rest_body(502, "<html>bad gateway</html>").code == "HTTP502"
    assert parse_rest_body(200, "not json").code == "BAD_BODY"
    assert parse_rest_body(200, "[1]").code == "BAD_BODY"
    assert parse_rest_body(404, {}).code == "HTTP404"
    assert parse_rest_body(200, {"rt_cd": "0", "output": {}}) == {"rt_cd": "0", "output": {}}


def test_approval_and_revoke():
    a = parse_approval(200, '{"approval_key":"3daa450a-0685-4c31-b015-99c5e5f4b11d"}')
    assert a.approval_key.startswith("3daa") and "3daa" not in repr(a)
    r = parse_revoke(200, '{"code" : 200, "message" : "접근토큰 폐기에 성공하였습니다"}')
    assert r.code == 200 and r.message.startswith("접근토큰")
    assert parse_revoke(403, '{"error_description":"유효하지 않은 token 입니다.","error_code":"EGW00121"}').code == "EGW00121"


def test_builders_carry_no_secrets():
    for req in (token_request(), approval_request(), revoke_request()):
        assert req.method == "POST" and req.path.startswith("/oauth2/")
        blob = json.dumps([dict(req.headers), req.body])
        assert "appkey" not in blob and "appsecret" not in blob and "authorization" not in blob
    assert token_request().body == {"grant_type": "client_credentials"}
    p = current_price_request("005930")
    assert p.method == "GET" and p.path == "/uapi/domestic-stock/v1/quotations/inquire-price"
    assert p.headers["tr_id"] == "FHKST01010100" and p.params == {"FID_COND_MRKT_DIV_CODE": "J",
                                                                  "FID_INPUT_ISCD": "005930"}
    m = minute_chart_request("005930", "153000")
    assert m.headers["tr_id"] == "FHKST03010200" and m.params["FID_INPUT_HOUR_1"] == "153000"
    d = daily_chart_request("005930", date(2024, 1, 2), date(2024, 5, 31))
    assert d.headers["tr_id"] == "FHKST03010100"
    assert (d.params["FID_INPUT_DATE_1"], d.params["FID_INPUT_DATE_2"], d.params["FID_PERIOD_DIV_CODE"],
            d.params["FID_ORG_ADJ_PRC"]) == ("20240102", "20240531", "D", "0")


def test_current_price():
    body = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다.", "output": {
        "stck_prpr": "71900", "prdy_vrss": "-100", "prdy_vrss_sign": "5", "prdy_ctrt": "-0.14",
        "acml_vol": "3052507", "acml_tr_pbmn": "219853241700", "stck_oprc": "72100", "stck_hgpr": "72400",
        "stck_lwpr": "71700", "stck_mxpr": "93600", "stck_llam": "50400", "stck_sdpr": "72000",
        "wghn_avrg_stck_prc": "72023.83", "per": "", "bstp_kor_isnm": "전기.전자"}}
    p = parse_current_price(200, body)
    assert isinstance(p, CurrentPrice)
    assert (p.stck_prpr, p.prdy_vrss, p.stck_mxpr, p.stck_llam, p.stck_sdpr) == (71900, -100, 93600, 50400, 72000)
    assert p.prdy_ctrt == Decimal("-0.14") and p.model_extra["per"] == ""
    assert parse_current_price(200, {"rt_cd": "0", "output": {"stck_prpr": "abc"}}).code == "BAD_BODY"
    assert parse_current_price(200, {"rt_cd": "0"}).code == "BAD_BODY"


def test_minute_chart_to_candles_oldest_first():
    rows = [{"stck_bsop_date": "20240502", "stck_cntg_hour": f"0931{s}", "stck_prpr": "100", "stck_oprc": "99",
             "stck_hgpr": "101", "stck_lwpr": "98", "cntg_vol": "10", "acml_tr_pbmn": "1000"} for s in ("00",)]
    rows.insert(0, {**rows[0], "stck_cntg_hour": "093200", "stck_prpr": "102"})  # KIS sends newest first
    c = parse_minute_chart(200, {"rt_cd": "0", "output1": {}, "output2": rows}, "005930")
    assert [x.time for x in c] == [datetime(2024, 5, 2, 9, 31, tzinfo=KST), datetime(2024, 5, 2, 9, 32, tzinfo=KST)]
    assert (c[0].open, c[0].high, c[0].low, c[0].close, c[0].volume) == (99, 101, 98, 100, 10)
    assert c[0].interval == "1m" and c[0].source == "rest" and c[0].symbol == "005930"


def test_daily_chart_and_empty_padding_row():
    rows = [{"stck_bsop_date": "20240502", "stck_clpr": "78000", "stck_oprc": "77000", "stck_hgpr": "78500",
             "stck_lwpr": "76900", "acml_vol": "1000000", "acml_tr_pbmn": "77000000000"},
            {"stck_bsop_date": "", "stck_clpr": ""}]
    c = parse_daily_chart(200, {"rt_cd": "0", "output2": rows}, "005930")
    assert len(c) == 1 and c[0].time == datetime(2024, 5, 2, tzinfo=KST) and c[0].close == 78000
    assert c[0].interval == "1d" and c[0].value == 77000000000
    assert parse_daily_chart(500, {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "x"}, "005930").code == "EGW00201"
    assert parse_minute_chart(200, {"rt_cd": "0", "output2": [{"stck_bsop_date": "2024", "stck_cntg_hour": "x",
                                    "stck_prpr": "1", "stck_oprc": "1", "stck_hgpr": "1", "stck_lwpr": "1"}]},
                              "005930").code == "BAD_BODY"
