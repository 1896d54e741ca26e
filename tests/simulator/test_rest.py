"""oauth2 rules, gateway errors, rate limit and the quotation endpoints over real HTTP."""
from __future__ import annotations

import asyncio
import re
from datetime import datetime

from simulator.testing import running_simulator

from .conftest import FAST, KEY, SECRET, http_client, issue_token

Q = "/uapi/domestic-stock/v1/quotations/"


def headers(token: str, tr_id: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "appkey": KEY, "appsecret": SECRET, "tr_id": tr_id,
            "custtype": "P", "content-type": "application/json; charset=utf-8"}


async def test_token_shape_reuse_and_one_new_per_minute():
    async with running_simulator(**FAST, token_reuse_s=1.0) as sim, http_client(sim) as http:
        r = await issue_token(http)
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"access_token", "access_token_token_expired", "token_type", "expires_in"}
        assert body["token_type"] == "Bearer" and isinstance(body["expires_in"], int)
        assert 86000 < body["expires_in"] <= 86400
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body["access_token_token_expired"])
        assert body["access_token"].startswith("eyJ") and body["access_token"].count(".") == 2
        again = (await issue_token(http)).json()
        assert again["access_token"] == body["access_token"]  # within the reuse window
        await asyncio.sleep(1.05)  # past the reuse window, still within the minute
        limited = await issue_token(http)
        assert limited.status_code == 403
        assert limited.json() == {"error_description": "접근토큰 발급 잠시 후 다시 시도하세요(1분당 1회)",
                                  "error_code": "EGW00133"}
        assert sim.stats()["tokens_issued"] == 1
        assert SECRET not in repr(sim.config) and KEY not in repr(sim.config)


async def test_wrong_secret_and_auth_fault(sim):
    async with http_client(sim) as http:
        bad = await issue_token(http, KEY, "nope")
        assert bad.status_code == 403 and set(bad.json()) == {"error_description", "error_code"}
        await http.post("/_sim/faults/auth?fail=1")
        assert (await issue_token(http)).status_code == 403
        r = await http.post("/oauth2/Approval", json={"grant_type": "client_credentials", "appkey": KEY,
                                                      "secretkey": SECRET})
        assert r.status_code == 403
        await http.post("/_sim/faults/auth?fail=0")
        assert (await issue_token(http)).status_code == 200


async def test_expired_unknown_and_revoked_tokens():
    async with running_simulator(**FAST, token_validity_s=1.0) as sim, http_client(sim) as http:
        tok = (await issue_token(http)).json()["access_token"]
        params = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"}
        ok = await http.get(Q + "inquire-price", params=params, headers=headers(tok, "FHKST01010100"))
        assert ok.status_code == 200 and ok.json()["rt_cd"] == "0"
        unknown = await http.get(Q + "inquire-price", params=params, headers=headers("x.y.z", "FHKST01010100"))
        assert unknown.status_code == 500 and unknown.json()["msg_cd"] == "EGW00121"
        await asyncio.sleep(1.05)
        expired = await http.get(Q + "inquire-price", params=params, headers=headers(tok, "FHKST01010100"))
        assert expired.status_code == 500
        assert expired.json() == {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."}


async def test_revoke(sim):
    async with http_client(sim) as http:
        tok = (await issue_token(http)).json()["access_token"]
        r = await http.post("/oauth2/revokeP", json={"appkey": KEY, "appsecret": SECRET, "token": tok})
        assert r.json()["code"] == 200
        again = await http.post("/oauth2/revokeP", json={"appkey": KEY, "appsecret": SECRET, "token": tok})
        assert again.json()["error_code"] == "EGW00121"


async def test_rate_limit_egw00201_with_http_500():
    async with running_simulator(**FAST, rest_rate_per_s=5) as sim, http_client(sim) as http:
        tok = (await issue_token(http)).json()["access_token"]
        params = {"fid_cond_mrkt_div_code": "J", "fid_input_iscd": "005930"}
        rs = await asyncio.gather(*[http.get(Q + "inquire-price", params=params,
                                             headers=headers(tok, "FHKST01010100")) for _ in range(12)])
        limited = [r for r in rs if r.status_code == 500]
        assert limited and any(r.status_code == 200 for r in rs)
        assert limited[0].json() == {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."}
        assert sim.stats()["rest_rate_limited"] == len(limited)


async def test_inquire_price_case_insensitive_keys(sim):
    async with http_client(sim) as http:
        tok = (await issue_token(http)).json()["access_token"]
        for params in ({"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
                       {"fid_cond_mrkt_div_code": "J", "fid_input_iscd": "005930"}):
            r = await http.get(Q + "inquire-price", params=params, headers=headers(tok, "FHKST01010100"))
            body = r.json()
            assert (body["rt_cd"], body["msg_cd"], body["msg1"]) == ("0", "MCA00000", "정상처리 되었습니다.")
            out = body["output"]
            assert int(out["stck_llam"]) <= int(out["stck_prpr"]) <= int(out["stck_mxpr"])


async def test_minute_chart_limit_order_and_matches_record():
    start = datetime.fromisoformat("2026-11-20T10:00:00+09:00")
    async with running_simulator(**{**FAST, "start": start, "speed": 1200.0, "rate": 50.0}) as sim, http_client(sim) as http:
        while len(sim.candles("005930")) < 35:
            await asyncio.sleep(0.05)
        tok = (await issue_token(http)).json()["access_token"]
        r = await http.get(Q + "inquire-time-itemchartprice", headers=headers(tok, "FHKST03010200"), params={
            "FID_ETC_CLS_CODE": "", "FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930",
            "FID_INPUT_HOUR_1": "235959", "FID_PW_DATA_INCU_YN": "N"})
        rows = r.json()["output2"]
        assert len(rows) == 30
        times = [x["stck_bsop_date"] + x["stck_cntg_hour"] for x in rows]
        assert times == sorted(times, reverse=True)
        record = {c["time"][:16]: c for c in (await http.get("/_sim/candles", params={"symbol": "005930"})).json()}
        older = rows[5]
        key = f"{older['stck_bsop_date'][:4]}-{older['stck_bsop_date'][4:6]}-{older['stck_bsop_date'][6:]}T" \
              f"{older['stck_cntg_hour'][:2]}:{older['stck_cntg_hour'][2:4]}"
        c = record[key]
        assert (int(older["stck_oprc"]), int(older["stck_hgpr"]), int(older["stck_lwpr"]), int(older["stck_prpr"]),
                int(older["cntg_vol"])) == (c["open"], c["high"], c["low"], c["close"], c["volume"])
        # bars at/before the requested time only
        r2 = await http.get(Q + "inquire-time-itemchartprice", headers=headers(tok, "FHKST03010200"), params={
            "FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930", "FID_INPUT_HOUR_1": "100500"})
        assert all(x["stck_cntg_hour"] <= "100500" for x in r2.json()["output2"])


async def test_daily_chart_limit_order_deterministic(sim):
    async with http_client(sim) as http:
        tok = (await issue_token(http)).json()["access_token"]
        params = {"fid_cond_mrkt_div_code": "J", "fid_input_iscd": "000660", "fid_input_date_1": "20250101",
                  "fid_input_date_2": "20261119", "fid_period_div_code": "D", "fid_org_adj_prc": "0"}
        a = (await http.get(Q + "inquire-daily-itemchartprice", params=params,
                            headers=headers(tok, "FHKST03010100"))).json()
        rows = a["output2"]
        assert len(rows) == 100 and rows[0]["stck_bsop_date"] == "20261119"
        dates = [x["stck_bsop_date"] for x in rows]
        assert dates == sorted(dates, reverse=True) and "20261115" not in dates  # a Sunday
        for x in rows:
            assert int(x["stck_lwpr"]) <= min(int(x["stck_oprc"]), int(x["stck_clpr"]))
            assert int(x["stck_hgpr"]) >= max(int(x["stck_oprc"]), int(x["stck_clpr"]))
    async with running_simulator(**FAST) as other, http_client(other) as http:
        tok = (await issue_token(http)).json()["access_token"]
        b = (await http.get(Q + "inquire-daily-itemchartprice", params=params,
                            headers=headers(tok, "FHKST03010100"))).json()
        assert b["output2"] == rows


async def test_daily_chart_monthly_aggregates_daily(sim):
    async with http_client(sim) as http:
        tok = (await issue_token(http)).json()["access_token"]
        base = {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930", "FID_INPUT_DATE_1": "20261001",
                "FID_INPUT_DATE_2": "20261031", "FID_ORG_ADJ_PRC": "0"}
        h = headers(tok, "FHKST03010100")
        days = (await http.get(Q + "inquire-daily-itemchartprice", params={**base, "FID_PERIOD_DIV_CODE": "D"},
                               headers=h)).json()["output2"]
        month = (await http.get(Q + "inquire-daily-itemchartprice", params={**base, "FID_PERIOD_DIV_CODE": "M"},
                                headers=h)).json()["output2"]
    assert len(month) == 1 and month[0]["stck_bsop_date"] == days[0]["stck_bsop_date"]
    assert month[0]["stck_clpr"] == days[0]["stck_clpr"] and month[0]["stck_oprc"] == days[-1]["stck_oprc"]
    assert int(month[0]["acml_vol"]) == sum(int(d["acml_vol"]) for d in days)
    assert int(month[0]["stck_hgpr"]) == max(int(d["stck_hgpr"]) for d in days)
