"""KIS REST: pure request builders and response models (no I/O here).

Builders return a `RestRequest` without secrets; the I/O layer adds `appkey`, `appsecret` and
`authorization` (headers, or body fields for the oauth endpoints) itself. `parse_rest_body` reads
both error shapes whatever the HTTP status: `{rt_cd, msg_cd, msg1}` (EGW00201 often with HTTP 500)
and the oauth shape `{error_code, error_description}` (EGW00133 with HTTP 403). Reference §1, §7, §8.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..models import Candle
from .errors import preview
from .events import KST

TOKEN_PATH = "/oauth2/tokenP"
APPROVAL_PATH = "/oauth2/Approval"
REVOKE_PATH = "/oauth2/revokeP"
PRICE_PATH = "/uapi/domestic-stock/v1/quotations/inquire-price"
MINUTE_CHART_PATH = "/uapi/domestic-stock/v1/quotations/inquire-time-itemchartprice"
DAILY_CHART_PATH = "/uapi/domestic-stock/v1/quotations/inquire-daily-itemchartprice"
TR_PRICE = "FHKST01010100"
TR_MINUTE_CHART = "FHKST03010200"
TR_DAILY_CHART = "FHKST03010100"
MINUTE_CHART_MAX_ROWS = 30
DAILY_CHART_MAX_ROWS = 100

# Error codes callers act on.
EGW_RATE_LIMIT = "EGW00201"  # 초당 거래건수를 초과 -> back off, retry
EGW_TOKEN_EXPIRED = "EGW00123"  # 기간이 만료된 token -> new token, retry
EGW_TOKEN_INVALID = "EGW00121"
EGW_TOKEN_THROTTLED = "EGW00133"  # tokenP 1/min -> wait, reuse the cached token


@dataclass(frozen=True, slots=True)
class RestRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # without appkey / appsecret / authorization
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RestError:
    http_status: int
    code: str  # msg_cd / error_code, or "HTTP<status>" / "BAD_BODY"
    message: str

    @property
    def retryable(self) -> bool:
        return self.code in (EGW_RATE_LIMIT, EGW_TOKEN_EXPIRED, EGW_TOKEN_THROTTLED) or self.http_status >= 500


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def parse_rest_body(http_status: int, body: bytes | str | dict) -> dict | RestError:
    """The JSON body as a dict, or a RestError for any error shape or a non-JSON body. Never raises."""
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body) if body.strip() else {}
        except ValueError:
            code = f"HTTP{http_status}" if http_status >= 400 else "BAD_BODY"
            return RestError(http_status, code, f"non-JSON body: {preview(body)}")
    if not isinstance(body, dict):
        return RestError(http_status, "BAD_BODY", f"JSON body is a {type(body).__name__}, not an object")
    if "error_code" in body:  # oauth shape
        return RestError(http_status, _s(body.get("error_code")), _s(body.get("error_description")))
    rt_cd = body.get("rt_cd")
    if rt_cd is not None and _s(rt_cd) != "0":
        return RestError(http_status, _s(body.get("msg_cd")) or f"RT{_s(rt_cd)}", _s(body.get("msg1")))
    if http_status >= 400:
        return RestError(http_status, f"HTTP{http_status}", preview(json.dumps(body, ensure_ascii=False)))
    return body


# ---- oauth ---------------------------------------------------------------------------------------

_JSON = {"content-type": "application/json; charset=utf-8"}


def token_request() -> RestRequest:
    """POST /oauth2/tokenP; the I/O layer adds body appkey + appsecret."""
    return RestRequest("POST", TOKEN_PATH, dict(_JSON), body={"grant_type": "client_credentials"})


def approval_request() -> RestRequest:
    """POST /oauth2/Approval; the I/O layer adds body appkey + secretkey (the app secret)."""
    return RestRequest("POST", APPROVAL_PATH, dict(_JSON), body={"grant_type": "client_credentials"})


def revoke_request() -> RestRequest:
    """POST /oauth2/revokeP; the I/O layer adds body appkey, appsecret and token."""
    return RestRequest("POST", REVOKE_PATH, dict(_JSON), body={})


def _kst(v: Any) -> Any:
    if isinstance(v, str):
        return datetime.strptime(v.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=KST)
    return v


class TokenResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    access_token: str = Field(repr=False)
    token_type: str = "Bearer"
    expires_in: int
    access_token_token_expired: Annotated[datetime, BeforeValidator(_kst)]  # KST wall time on the wire


class ApprovalResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    approval_key: str = Field(repr=False)


class RevokeResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    code: int | str | None = None
    message: str = ""


# ---- quotations ----------------------------------------------------------------------------------


def _num0(v: Any) -> Any:
    return 0 if v is None or (isinstance(v, str) and v.strip() in ("", "(null)")) else v


Int = Annotated[int, BeforeValidator(_num0)]
Dec = Annotated[Decimal, BeforeValidator(_num0)]


def _quote_headers(tr_id: str, custtype: str = "P") -> dict[str, str]:
    return {**_JSON, "tr_id": tr_id, "custtype": custtype}


def current_price_request(symbol: str, market: str = "J") -> RestRequest:
    return RestRequest("GET", PRICE_PATH, _quote_headers(TR_PRICE),
                       params={"FID_COND_MRKT_DIV_CODE": market, "FID_INPUT_ISCD": symbol})


class CurrentPrice(BaseModel):
    """`output` of inquire-price (FHKST01010100); names verbatim from KIS, unknown fields kept."""

    model_config = ConfigDict(extra="allow", frozen=True)
    stck_prpr: Int  # 현재가
    prdy_vrss: Int = 0  # 전일 대비 (signed)
    prdy_vrss_sign: str = ""
    prdy_ctrt: Dec = Decimal(0)
    acml_vol: Int = 0
    acml_tr_pbmn: Int = 0
    stck_oprc: Int = 0
    stck_hgpr: Int = 0
    stck_lwpr: Int = 0
    stck_mxpr: Int = 0  # 상한가
    stck_llam: Int = 0  # 하한가
    stck_sdpr: Int = 0  # 기준가 (전일 종가)
    wghn_avrg_stck_prc: Dec = Decimal(0)
    stck_shrn_iscd: str = ""
    bstp_kor_isnm: str = ""  # 업종 한글 종목명 (inquire-price has no hts_kor_isnm)
    temp_stop_yn: str = ""
    iscd_stat_cls_code: str = ""


def _validated(model: type[BaseModel], data: Any, http_status: int) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return RestError(http_status, "BAD_BODY", f"{model.__name__}: {exc.error_count()} invalid field(s)")


def parse_current_price(http_status: int, body: bytes | str | dict) -> CurrentPrice | RestError:
    d = parse_rest_body(http_status, body)
    if isinstance(d, RestError):
        return d
    return _validated(CurrentPrice, d.get("output"), http_status)


def parse_token(http_status: int, body: bytes | str | dict) -> TokenResponse | RestError:
    d = parse_rest_body(http_status, body)
    return d if isinstance(d, RestError) else _validated(TokenResponse, d, http_status)


def parse_approval(http_status: int, body: bytes | str | dict) -> ApprovalResponse | RestError:
    d = parse_rest_body(http_status, body)
    return d if isinstance(d, RestError) else _validated(ApprovalResponse, d, http_status)


def parse_revoke(http_status: int, body: bytes | str | dict) -> RevokeResponse | RestError:
    d = parse_rest_body(http_status, body)
    return d if isinstance(d, RestError) else _validated(RevokeResponse, d, http_status)


# ---- charts ---------------------------------------------------------------------------------------


def minute_chart_request(symbol: str, until_hhmmss: str, market: str = "J") -> RestRequest:
    """Up to 30 one-minute bars of today at/before `until_hhmmss`, newest first (FHKST03010200)."""
    return RestRequest("GET", MINUTE_CHART_PATH, _quote_headers(TR_MINUTE_CHART), params={
        "FID_ETC_CLS_CODE": "", "FID_COND_MRKT_DIV_CODE": market, "FID_INPUT_ISCD": symbol,
        "FID_INPUT_HOUR_1": until_hhmmss, "FID_PW_DATA_INCU_YN": "N",
    })


def daily_chart_request(symbol: str, start: date, end: date, period: str = "D", adjusted: bool = True,
                        market: str = "J") -> RestRequest:
    """Up to 100 bars between start and end, newest first (FHKST03010100)."""
    return RestRequest("GET", DAILY_CHART_PATH, _quote_headers(TR_DAILY_CHART), params={
        "FID_COND_MRKT_DIV_CODE": market, "FID_INPUT_ISCD": symbol,
        "FID_INPUT_DATE_1": start.strftime("%Y%m%d"), "FID_INPUT_DATE_2": end.strftime("%Y%m%d"),
        "FID_PERIOD_DIV_CODE": period, "FID_ORG_ADJ_PRC": "0" if adjusted else "1",
    })


class MinuteBar(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    stck_bsop_date: str
    stck_cntg_hour: str
    stck_prpr: Int  # close
    stck_oprc: Int
    stck_hgpr: Int
    stck_lwpr: Int
    cntg_vol: Int = 0
    acml_tr_pbmn: Int = 0


class DailyBar(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    stck_bsop_date: str
    stck_clpr: Int
    stck_oprc: Int
    stck_hgpr: Int
    stck_lwpr: Int
    acml_vol: Int = 0
    acml_tr_pbmn: Int = 0
    flng_cls_code: str = ""
    mod_yn: str = ""


def _rows(d: dict) -> list:
    rows = d.get("output2") or []
    # KIS pads empty result sets with one all-empty object; drop rows without a date.
    return [r for r in rows if isinstance(r, dict) and r.get("stck_bsop_date")] if isinstance(rows, list) else []


def _ymd_hms(ymd: str, hms: str) -> datetime:
    return datetime.strptime(ymd + hms[:4] + "00", "%Y%m%d%H%M%S").replace(tzinfo=KST)


def parse_minute_chart(http_status: int, body: bytes | str | dict, symbol: str) -> list[Candle] | RestError:
    """1m candles (KST), oldest first. `time` is the bar's minute as KIS labels it (stck_cntg_hour, seconds
    dropped); `value` is KIS's acml_tr_pbmn column as sent."""
    d = parse_rest_body(http_status, body)
    if isinstance(d, RestError):
        return d
    out = []
    try:
        for row in _rows(d):
            b = MinuteBar.model_validate(row)
            out.append(Candle(symbol, "1m", _ymd_hms(b.stck_bsop_date, b.stck_cntg_hour), b.stck_oprc,
                              b.stck_hgpr, b.stck_lwpr, b.stck_prpr, b.cntg_vol, b.acml_tr_pbmn, 0, "rest"))
    except (ValidationError, ValueError) as exc:
        return RestError(http_status, "BAD_BODY", f"minute chart row: {type(exc).__name__}")
    out.sort(key=lambda c: c.time)
    return out


def parse_daily_chart(http_status: int, body: bytes | str | dict, symbol: str) -> list[Candle] | RestError:
    """1d candles (time = 00:00 KST of the trading day), oldest first."""
    d = parse_rest_body(http_status, body)
    if isinstance(d, RestError):
        return d
    out = []
    try:
        for row in _rows(d):
            b = DailyBar.model_validate(row)
            out.append(Candle(symbol, "1d", _ymd_hms(b.stck_bsop_date, "000000"), b.stck_oprc, b.stck_hgpr,
                              b.stck_lwpr, b.stck_clpr, b.acml_vol, b.acml_tr_pbmn, 0, "rest"))
    except (ValidationError, ValueError) as exc:
        return RestError(http_status, "BAD_BODY", f"daily chart row: {type(exc).__name__}")
    out.sort(key=lambda c: c.time)
    return out
