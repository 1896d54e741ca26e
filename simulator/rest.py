"""The KIS REST side (oauth2 + quotations) and the simulator's own /_sim control endpoints.

oauth2 errors use KIS's {"error_description","error_code"} shape (HTTP 403); /uapi errors use
{"rt_cd","msg_cd","msg1"} (gateway errors with HTTP 500, as KIS sends EGW00201/EGW00123).
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from .clock import KST
from .market import aggregate_period

if TYPE_CHECKING:
    from .server import Simulator

OK = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다."}
GATEWAY_MSG = {
    "EGW00103": "유효하지 않은 AppKey입니다.",
    "EGW00105": "유효하지 않은 AppSecret입니다.",
    "EGW00121": "유효하지 않은 token 입니다.",
    "EGW00123": "기간이 만료된 token 입니다.",
    "EGW00201": "초당 거래건수를 초과하였습니다.",
    "EGW00205": "credentials_type이 유효하지 않습니다.(Bearer)",
}


def _json(data: dict, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), status=status,
                        content_type="application/json", charset="utf-8")


def _oauth_error(code: str, status: int = 403, message: str | None = None) -> web.Response:
    return _json({"error_description": message or GATEWAY_MSG[code], "error_code": code}, status)


def _uapi_error(code: str, status: int = 500, message: str | None = None) -> web.Response:
    return _json({"rt_cd": "1", "msg_cd": code, "msg1": message or GATEWAY_MSG[code]}, status)


async def _body(request: web.Request) -> dict:
    try:
        data = await request.json()
        return data if isinstance(data, dict) else {}
    except Exception:
        return {}


def _sign(diff: int) -> str:
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def build_rest_app(sim: "Simulator") -> web.Application:
    auth = sim.auth

    # ---- oauth2
    async def token(request: web.Request) -> web.Response:
        b = await _body(request)
        if auth.fail:
            return _oauth_error("EGW00103")
        app_key, secret = b.get("appkey"), b.get("appsecret")
        if app_key not in sim.config.credentials:
            return _oauth_error("EGW00103")
        if not auth.check_credentials(app_key, secret):
            return _oauth_error("EGW00105")
        try:
            tok, _ = auth.issue_token(app_key)
        except Exception as e:  # TokenError (EGW00133)
            return _oauth_error(getattr(e, "code", "EGW00133"), 403, getattr(e, "message", None))
        return _json({"access_token": tok.value,
                      "access_token_token_expired": tok.expires_wall.strftime("%Y-%m-%d %H:%M:%S"),
                      "token_type": "Bearer", "expires_in": max(0, int(tok.expires - time.monotonic()))})

    async def approval(request: web.Request) -> web.Response:
        b = await _body(request)
        if auth.fail:
            return _oauth_error("EGW00103")
        app_key = b.get("appkey")
        if app_key not in sim.config.credentials:
            return _oauth_error("EGW00103")
        if not auth.check_credentials(app_key, b.get("secretkey")):
            return _oauth_error("EGW00105")
        return _json({"approval_key": auth.issue_approval(app_key)})

    async def revoke(request: web.Request) -> web.Response:
        b = await _body(request)
        if not auth.check_credentials(b.get("appkey"), b.get("appsecret")):
            return _oauth_error("EGW00105")
        if not auth.revoke(str(b.get("token", ""))):
            return _oauth_error("EGW00121")
        return _json({"code": 200, "message": "접근토큰 폐기에 성공하였습니다"})

    # ---- /uapi gateway checks
    def gateway(request: web.Request, tr_id: str) -> web.Response | dict[str, str]:
        sim.rest_requests += 1
        h = request.headers
        app_key, secret = h.get("appkey"), h.get("appsecret")
        if app_key not in sim.config.credentials:
            return _uapi_error("EGW00103")
        if not auth.check_credentials(app_key, secret):
            return _uapi_error("EGW00105")
        if not auth.rest_allowed(app_key):
            sim.rest_rate_limited += 1
            return _uapi_error("EGW00201")
        bearer = h.get("authorization", "")
        if not bearer.lower().startswith("bearer "):
            return _uapi_error("EGW00205")
        problem = auth.check_token(bearer[7:].strip(), app_key)
        if problem:
            return _uapi_error(problem)
        if h.get("tr_id") != tr_id:
            return _uapi_error("OPSQ0001", 500, f"tr_id가 올바르지 않습니다. ({tr_id})")
        return {k.upper(): v for k, v in request.query.items()}

    def symbol_market(params: dict[str, str]):
        code = params.get("FID_INPUT_ISCD", "")
        return code, sim.market.krx.get(code)

    def no_symbol() -> web.Response:
        return _json({"rt_cd": "1", "msg_cd": "OPSQ0002", "msg1": "없는 종목코드 입니다."})

    def summary(m) -> dict[str, str]:
        chg = m.last - m.prev_close
        return {"stck_prpr": str(m.last), "prdy_vrss": str(chg), "prdy_vrss_sign": _sign(chg),
                "prdy_ctrt": f"{chg / m.prev_close * 100:.2f}", "stck_prdy_clpr": str(m.prev_close),
                "acml_vol": str(m.acml_vol), "acml_tr_pbmn": str(m.acml_value), "hts_kor_isnm": m.sym.name,
                "stck_shrn_iscd": m.sym.code}

    async def inquire_price(request: web.Request) -> web.Response:
        p = gateway(request, "FHKST01010100")
        if isinstance(p, web.Response):
            return p
        code, m = symbol_market(p)
        if m is None:
            return no_symbol()
        out = summary(m)
        out.update({"stck_oprc": str(m.open or m.last), "stck_hgpr": str(m.high or m.last),
                    "stck_lwpr": str(m.low or m.last), "stck_mxpr": str(m.upper), "stck_llam": str(m.lower),
                    "stck_sdpr": str(m.prev_close), "askp1": str(m.ask1), "bidp1": str(m.bid1),
                    "lstn_stcn": str(m.sym.listed_shares),
                    "hts_avls": str(m.last * m.sym.listed_shares // 100_000_000),
                    "bstp_kor_isnm": m.sym.sector, "rprs_mrkt_kor_name": m.sym.market,
                    "temp_stop_yn": "Y" if m.halted else "N", "iscd_stat_cls_code": "58" if m.halted else "55"})
        return _json({"output": out, **OK})

    async def minute_chart(request: web.Request) -> web.Response:
        p = gateway(request, "FHKST03010200")
        if isinstance(p, web.Response):
            return p
        code, m = symbol_market(p)
        if m is None:
            return no_symbol()
        now = sim.clock.now()
        day = sim.clock.session_date(now)
        hour = p.get("FID_INPUT_HOUR_1", "") or now.strftime("%H%M%S")
        try:
            until = datetime.combine(day, datetime.strptime(hour.ljust(6, "0")[:6], "%H%M%S").time(), KST)
        except ValueError:
            return _uapi_error("OPSQ0003", 200, "FID_INPUT_HOUR_1 형식이 올바르지 않습니다.")
        until = min(until, now)  # a future time answers as of now
        rows = [{"stck_bsop_date": t.strftime("%Y%m%d"), "stck_cntg_hour": t.strftime("%H%M%S"),
                 "stck_prpr": str(c[3]), "stck_oprc": str(c[0]), "stck_hgpr": str(c[1]), "stck_lwpr": str(c[2]),
                 "cntg_vol": str(c[4]), "acml_tr_pbmn": str(c[5])}
                for t, c in sim.market.minute_bars(code, day, until)[:30]]
        return _json({"output1": summary(m), "output2": rows, **OK})

    async def daily_chart(request: web.Request) -> web.Response:
        p = gateway(request, "FHKST03010100")
        if isinstance(p, web.Response):
            return p
        code, m = symbol_market(p)
        if m is None:
            return no_symbol()
        try:
            first = datetime.strptime(p.get("FID_INPUT_DATE_1", ""), "%Y%m%d").date()
            last = datetime.strptime(p.get("FID_INPUT_DATE_2", ""), "%Y%m%d").date()
        except ValueError:
            return _uapi_error("OPSQ0003", 200, "FID_INPUT_DATE 형식이 올바르지 않습니다.")
        period = p.get("FID_PERIOD_DIV_CODE", "D").upper()
        per_row = {"W": 5, "M": 23, "Y": 250}.get(period, 1)
        bars = aggregate_period(sim.market.daily_bars(code, first, last, 101 * per_row), period)[:100]
        rows = []
        for i, (d, (o, h, lo, c, v, val)) in enumerate(bars):
            prev = bars[i + 1][1][3] if i + 1 < len(bars) else c
            rows.append({"stck_bsop_date": d.strftime("%Y%m%d"), "stck_clpr": str(c), "stck_oprc": str(o),
                         "stck_hgpr": str(h), "stck_lwpr": str(lo), "acml_vol": str(v), "acml_tr_pbmn": str(val),
                         "flng_cls_code": "00", "prtt_rate": "0.00", "mod_yn": "N",
                         "prdy_vrss_sign": _sign(c - prev), "prdy_vrss": str(c - prev), "revl_issu_reas": ""})
        return _json({"output1": summary(m), "output2": rows, **OK})

    # ---- /_sim control
    def num(request: web.Request, name: str, default: float) -> float:
        try:
            return float(request.query.get(name, default))
        except ValueError:
            raise web.HTTPBadRequest(text=f"{name} must be a number")

    async def stats(request: web.Request) -> web.Response:
        return _json(sim.stats())

    async def candles(request: web.Request) -> web.Response:
        code = request.query.get("symbol", "")
        if code not in sim.market.krx:
            return _json({"error": f"unknown symbol {code!r}"}, 404)
        try:  # optional ISO bounds (aware), start inclusive, end exclusive
            start, end = (datetime.fromisoformat(request.query[k]) if k in request.query else None
                          for k in ("from", "to"))
            return web.json_response(sim.market.candle_list(code, start, end))
        except (ValueError, TypeError):
            return _json({"error": "from/to must be ISO-8601 with a UTC offset"}, 400)

    async def trades(request: web.Request) -> web.Response:
        code = request.query.get("symbol", "")
        if code not in sim.market.krx:
            return _json({"error": f"unknown symbol {code!r}"}, 404)
        limit = int(num(request, "limit", 10_000))
        rows = sim.market.trade_list(code)[-limit:]
        return web.json_response([{"time": t.time.isoformat(), "price": t.price, "size": t.size,
                                   "side": t.side, "large": t.large} for t in rows])

    async def fault(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind == "drop":
            return _json({"dropped": sim.drop()})
        if kind == "stall":
            sim.stall(num(request, "seconds", 10))
        elif kind == "restart":
            await sim.restart(num(request, "refuse_seconds", 5))
        elif kind == "malformed":
            sim.malformed(int(num(request, "count", 1)))
        elif kind == "loss":
            sim.loss(int(num(request, "frames", 1)))
        elif kind == "auth":
            sim.auth_fail(request.query.get("fail", "1") not in ("0", "false"))
        elif kind == "zombie":  # sessions that end from now on leave their app key busy for N s
            sim.config.zombie_slot_s = num(request, "seconds", 0)
        elif kind == "reply":
            from .faults import REPLY_CATALOGUE

            code = request.query.get("msg_cd", "")
            if code not in REPLY_CATALOGUE:
                return _json({"error": f"unknown msg_cd {code!r}"}, 400)
            sim.force_reply(code)
        else:
            return _json({"error": f"unknown fault {kind!r}"}, 404)
        return _json({"ok": True, "faults": sim.stats()["faults"]})

    async def halt(request: web.Request) -> web.Response:
        code = request.query.get("symbol", "")
        if code not in sim.market.krx:
            return _json({"error": f"unknown symbol {code!r}"}, 404)
        sim.halt(code, request.query.get("halted", "1") not in ("0", "false"))
        return _json({"ok": True})

    app = web.Application()
    q = "/uapi/domestic-stock/v1/quotations/"
    app.router.add_post("/oauth2/tokenP", token)
    app.router.add_post("/oauth2/Approval", approval)
    app.router.add_post("/oauth2/revokeP", revoke)
    app.router.add_get(q + "inquire-price", inquire_price)
    app.router.add_get(q + "inquire-time-itemchartprice", minute_chart)
    app.router.add_get(q + "inquire-daily-itemchartprice", daily_chart)
    app.router.add_get("/_sim/stats", stats)
    app.router.add_get("/_sim/candles", candles)
    app.router.add_get("/_sim/trades", trades)
    app.router.add_post("/_sim/faults/{kind}", fault)
    app.router.add_post("/_sim/halt", halt)
    return app
