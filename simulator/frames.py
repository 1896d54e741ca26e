"""The simulator's own KIS frame encoder (independent of backbone.kis.codec, so round trips mean something).

Records are built as {KIS column name: text} and laid out in the order of backbone.kis.layouts,
cut or padded to the configured width. Data frames are `enc|TR_ID|NNN|payload`, several records
concatenated with `^`; encrypted TRs carry base64(AES-256-CBC(PKCS7(payload))) with the key/iv of
their subscribe reply. Control replies are compact JSON in KIS's key order.
"""
from __future__ import annotations

import base64
import json
import random
import string
from datetime import datetime
from decimal import Decimal

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backbone.kis import layouts

from . import ticks
from .clock import KST
from .krx import BookSnap, Print, Status
from .market import IndexSnap
from .overseas import OvBook, OvPrint


def _sign(diff: float | int | Decimal) -> str:
    return "2" if diff > 0 else "5" if diff < 0 else "3"


def _pct(part: float, whole: float) -> str:
    return f"{(part / whole * 100) if whole else 0:.2f}"


def record(tr_id: str, values: dict[str, str], width: int | None = None) -> list[str]:
    names = layouts.LAYOUTS[tr_id]
    width = width or len(names)
    return [values.get(n, "") for n in names[:width]] + [""] * max(0, width - len(names))


def cnt_record(p: Print, width: int = 46) -> list[str]:
    """H0STCNT0 for one print."""
    chg = p.price - p.prev_close
    lower, upper = ticks.price_limits(p.prev_close)
    sign = "1" if p.price >= upper else "4" if p.price <= lower else _sign(chg)
    minutes = max(1, (p.time.hour * 60 + p.time.minute) - 540)
    prdy_same = p.prev_vol * min(minutes, 390) // 390
    v = {
        "MKSC_SHRN_ISCD": p.code, "STCK_CNTG_HOUR": p.time.strftime("%H%M%S"), "STCK_PRPR": str(p.price),
        "PRDY_VRSS_SIGN": sign, "PRDY_VRSS": str(chg), "PRDY_CTRT": _pct(chg, p.prev_close),
        "WGHN_AVRG_STCK_PRC": f"{p.acml_value / p.acml_vol:.2f}", "STCK_OPRC": str(p.open),
        "STCK_HGPR": str(p.high), "STCK_LWPR": str(p.low), "ASKP1": str(p.ask1), "BIDP1": str(p.bid1),
        "CNTG_VOL": str(p.size), "ACML_VOL": str(p.acml_vol), "ACML_TR_PBMN": str(p.acml_value),
        "SELN_CNTG_CSNU": str(p.seln_cnt), "SHNU_CNTG_CSNU": str(p.shnu_cnt),
        "NTBY_CNTG_CSNU": str(p.shnu_cnt - p.seln_cnt), "CTTR": _pct(p.shnu_vol, p.seln_vol or 1),
        "SELN_CNTG_SMTN": str(p.seln_vol), "SHNU_CNTG_SMTN": str(p.shnu_vol), "CCLD_DVSN": p.side,
        "SHNU_RATE": f"{p.shnu_vol / p.acml_vol:.2f}", "PRDY_VOL_VRSS_ACML_VOL_RATE": _pct(p.acml_vol, p.prev_vol),
        "OPRC_HOUR": p.open_time, "OPRC_VRSS_PRPR_SIGN": _sign(p.price - p.open),
        "OPRC_VRSS_PRPR": str(p.price - p.open), "HGPR_HOUR": p.high_time,
        "HGPR_VRSS_PRPR_SIGN": _sign(p.price - p.high), "HGPR_VRSS_PRPR": str(p.price - p.high),
        "LWPR_HOUR": p.low_time, "LWPR_VRSS_PRPR_SIGN": _sign(p.price - p.low),
        "LWPR_VRSS_PRPR": str(p.price - p.low), "BSOP_DATE": p.time.strftime("%Y%m%d"),
        "NEW_MKOP_CLS_CODE": "20", "TRHT_YN": "N", "ASKP_RSQN1": str(p.ask_rsqn1),
        "BIDP_RSQN1": str(p.bid_rsqn1), "TOTAL_ASKP_RSQN": str(p.total_ask), "TOTAL_BIDP_RSQN": str(p.total_bid),
        "VOL_TNRT": _pct(p.acml_vol, p.listed_shares), "PRDY_SMNS_HOUR_ACML_VOL": str(prdy_same),
        "PRDY_SMNS_HOUR_ACML_VOL_RATE": _pct(p.acml_vol, prdy_same), "HOUR_CLS_CODE": "0",
        "MRKT_TRTM_CLS_CODE": "", "VI_STND_PRC": str(p.open or p.prev_close), "MARKET_CLS_CODE": "2",
    }
    return record("H0STCNT0", v, width)


def asp_record(b: BookSnap, width: int = 62) -> list[str]:
    """H0STASP0 10-level book (59/62/63 fields)."""
    v = {"MKSC_SHRN_ISCD": b.code, "BSOP_HOUR": b.time.strftime("%H%M%S"), "HOUR_CLS_CODE": "0"}
    for i in range(10):
        v[f"ASKP{i + 1}"], v[f"ASKP_RSQN{i + 1}"] = str(b.asks[i][0]), str(b.asks[i][1])
        v[f"BIDP{i + 1}"], v[f"BIDP_RSQN{i + 1}"] = str(b.bids[i][0]), str(b.bids[i][1])
    v.update({
        "TOTAL_ASKP_RSQN": str(sum(s for _, s in b.asks)), "TOTAL_BIDP_RSQN": str(sum(s for _, s in b.bids)),
        "OVTM_TOTAL_ASKP_RSQN": "0", "OVTM_TOTAL_BIDP_RSQN": "0", "ANTC_CNPR": "0", "ANTC_CNQN": "0",
        "ANTC_VOL": "0", "ANTC_CNTG_VRSS": str(-b.prev_close), "ANTC_CNTG_VRSS_SIGN": "5",
        "ANTC_CNTG_PRDY_CTRT": "-100.00", "ACML_VOL": str(b.acml_vol),
        "TOTAL_ASKP_RSQN_ICDC": str(b.total_ask_icdc), "TOTAL_BIDP_RSQN_ICDC": str(b.total_bid_icdc),
        "OVTM_TOTAL_ASKP_ICDC": "0", "OVTM_TOTAL_BIDP_ICDC": "0", "STCK_DEAL_CLS_CODE": "0",
        "MID_PRC": str((b.asks[0][0] + b.bids[0][0]) // 2), "MIDP_TOTAL_RSQN": "0", "MIDP_CLS_CODE": "0",
        "MARKET_CLS_CODE": "2",
    })
    return record("H0STASP0", v, width)


def mko_record(s: Status, width: int = 10) -> list[str]:
    """H0STMKO0 (10 fields as seen live; 11 with EXCH_CLS_CODE)."""
    v = {"MKSC_SHRN_ISCD": s.code, "TRHT_YN": "Y" if s.halted else "N", "TR_SUSP_REAS_CNTT": s.reason,
         "MKOP_CLS_CODE": s.mkop, "ANTC_MKOP_CLS_CODE": s.antc_mkop, "ISCD_STAT_CLS_CODE": s.stat,
         "VI_CLS_CODE": "N", "OVTM_VI_CLS_CODE": "N", "EXCH_CLS_CODE": "1"}
    return record("H0STMKO0", v, width)


def index_record(x: IndexSnap) -> list[str]:
    """H0UPCNT0 index tick (volume in thousand shares, value in million won)."""
    chg = x.value - x.prev
    v = {
        "BSTP_CLS_CODE": x.code, "BSOP_HOUR": x.time.strftime("%H%M%S"), "PRPR_NMIX": f"{x.value:.2f}",
        "PRDY_VRSS_SIGN": _sign(chg), "BSTP_NMIX_PRDY_VRSS": f"{chg:.2f}", "ACML_VOL": str(x.acml_vol),
        "ACML_TR_PBMN": str(x.acml_value), "PCAS_VOL": str(x.pcas_vol), "PCAS_TR_PBMN": str(x.pcas_value),
        "PRDY_CTRT": _pct(float(chg), float(x.prev)), "OPRC_NMIX": f"{x.open:.2f}", "NMIX_HGPR": f"{x.high:.2f}",
        "NMIX_LWPR": f"{x.low:.2f}", "OPRC_VRSS_NMIX_PRPR": f"{x.value - x.open:.2f}",
        "OPRC_VRSS_NMIX_SIGN": _sign(x.value - x.open), "HGPR_VRSS_NMIX_PRPR": f"{x.value - x.high:.2f}",
        "HGPR_VRSS_NMIX_SIGN": _sign(x.value - x.high), "LWPR_VRSS_NMIX_PRPR": f"{x.value - x.low:.2f}",
        "LWPR_VRSS_NMIX_SIGN": _sign(x.value - x.low),
        "PRDY_CLPR_VRSS_OPRC_RATE": _pct(float(x.open - x.prev), float(x.prev)),
        "PRDY_CLPR_VRSS_HGPR_RATE": _pct(float(x.high - x.prev), float(x.prev)),
        "PRDY_CLPR_VRSS_LWPR_RATE": _pct(float(x.low - x.prev), float(x.prev)),
        "UPLM_ISSU_CNT": str(x.uplimit), "ASCN_ISSU_CNT": str(x.up), "STNR_ISSU_CNT": str(x.unch),
        "DOWN_ISSU_CNT": str(x.down), "LSLM_ISSU_CNT": str(x.downlimit), "QTQT_ASCN_ISSU_CNT": "0",
        "QTQT_DOWN_ISSU_CNT": "0", "TICK_VRSS": "0",
    }
    return record("H0UPCNT0", v)


def _times(local: datetime) -> dict[str, str]:
    k = local.astimezone(KST)
    return {"XYMD": local.strftime("%Y%m%d"), "XHMS": local.strftime("%H%M%S"),
            "KYMD": k.strftime("%Y%m%d"), "KHMS": k.strftime("%H%M%S")}


def ov_trade_record(p: OvPrint) -> list[str]:
    """HDFSCNT0 (26 fields, RSYM first); prices with 4 decimals (ZDIV 4)."""
    diff = p.price - p.prev_close
    rate = diff / p.prev_close * 100
    v = {"RSYM": p.code, "SYMB": p.ticker, "ZDIV": "4", "TYMD": p.local.strftime("%Y%m%d"), **_times(p.local),
         "OPEN": f"{p.open:.4f}", "HIGH": f"{p.high:.4f}", "LOW": f"{p.low:.4f}", "LAST": f"{p.price:.4f}",
         "SIGN": _sign(diff), "DIFF": f"{abs(diff):.4f}", "RATE": f"{rate:+.2f}", "PBID": f"{p.bid:.4f}",
         "PASK": f"{p.ask:.4f}", "VBID": str(p.bid_size), "VASK": str(p.ask_size), "EVOL": str(p.size),
         "TVOL": str(p.tvol), "TAMT": f"{p.tamt:.0f}", "BIVL": str(p.sell_vol), "ASVL": str(p.buy_vol),
         "STRN": _pct(p.buy_vol, p.sell_vol or 1), "MTYP": "1"}
    return record("HDFSCNT0", v)


def ov_book_record(b: OvBook) -> list[str]:
    """HDFSASP0 (US, 10 levels, 71 fields) or HDFSASP1 (Asia, 1 level, 17 fields)."""
    tr = "HDFSASP0" if len(b.bids) == 10 else "HDFSASP1"
    v = {"RSYM": b.code, "SYMB": b.ticker, "ZDIV": "4", **_times(b.local),
         "BVOL": str(sum(s for _, s in b.bids)), "AVOL": str(sum(s for _, s in b.asks)), "BDVL": "0", "ADVL": "0"}
    for i, ((bp, bs), (ap, as_)) in enumerate(zip(b.bids, b.asks), start=1):
        v.update({f"PBID{i}": f"{bp:.4f}", f"PASK{i}": f"{ap:.4f}", f"VBID{i}": str(bs), f"VASK{i}": str(as_),
                  f"DBID{i}": "0", f"DASK{i}": "0"})
    return record(tr, v)


def notice_record(tr_id: str, hts_id: str, code: str, name: str, qty: int, price: int, side: str,
                  order_no: int, fill: bool, at: datetime, width: int = 26) -> list[str]:
    """H0STCNI0/9 (26 or legacy 23 fields) or H0GSCNI0/9 (25): an acceptance or a fill notice."""
    v = {"CUST_ID": hts_id, "ACNT_NO": "5012345601", "ODER_NO": f"{order_no:010d}", "OODER_NO": "",
         "SELN_BYOV_CLS": side, "RCTF_CLS": "0", "ODER_KIND": "00", "ODER_KIND2": "00", "ODER_COND": "0",
         "STCK_SHRN_ISCD": code, "CNTG_QTY": f"{qty:010d}", "CNTG_UNPR": f"{price:09d}",
         "STCK_CNTG_HOUR": at.strftime("%H%M%S"), "RFUS_YN": "0", "CNTG_YN": "2" if fill else "1",
         "ACPT_YN": "2" if fill else "1", "BRNC_NO": "06010", "ODER_QTY": f"{qty:09d}", "ACNT_NAME": "김한투",
         "ORD_COND_PRC": "", "ORD_EXG_GB": "1", "POPUP_YN": "Y", "CRDT_CLS": "10", "CNTG_ISNM": name,
         "CNTG_ISNM40": name, "ODER_PRC": f"{price:09d}", "DEBT_GB": "", "CNTG_UNPR12": f"{price:012d}"}
    if tr_id in ("H0STCNI0", "H0STCNI9") and width == 23:
        return [v.get(n, "") for n in layouts.H0STCNI0_LEGACY23]
    return record(tr_id, v, width if tr_id in ("H0STCNI0", "H0STCNI9") else None)


# ---- frames
def encrypt(plaintext: str, key: str, iv: str) -> str:
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    enc = Cipher(algorithms.AES(key.encode()), modes.CBC(iv.encode())).encryptor()
    return base64.b64encode(enc.update(data) + enc.finalize()).decode("ascii")


def data_frame(tr_id: str, records: list[list[str]], key: str | None = None, iv: str | None = None) -> str:
    """`0|TR|NNN|f^f^...` (or `1|TR|NNN|base64` when key/iv are given). At most 999 records."""
    payload = "^".join("^".join(r) for r in records)
    if key is not None and iv is not None:
        return f"1|{tr_id}|{len(records):03d}|{encrypt(payload, key, iv)}"
    return f"0|{tr_id}|{len(records):03d}|{payload}"


def _json(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def control_reply(tr_id: str, tr_key: str, rt_cd: str, msg_cd: str, msg1: str, encrypt_flag: str = "N",
                  iv: str | None = None, key: str | None = None) -> str:
    body: dict = {"rt_cd": rt_cd, "msg_cd": msg_cd, "msg1": msg1}
    if iv is not None and key is not None:
        body["output"] = {"iv": iv, "key": key}
    return _json({"header": {"tr_id": tr_id, "tr_key": tr_key, "encrypt": encrypt_flag}, "body": body})


def pingpong(at: datetime) -> str:
    return _json({"header": {"tr_id": "PINGPONG", "datetime": at.astimezone(KST).strftime("%Y%m%d%H%M%S")}})


def new_key_iv(rng: random.Random) -> tuple[str, str]:
    """(key, iv) as KIS issues them: 32 lowercase letters, 16 lowercase hex digits."""
    key = "".join(rng.choice(string.ascii_lowercase) for _ in range(32))
    iv = "".join(rng.choice("0123456789abcdef") for _ in range(16))
    return key, iv


MALFORMED_KINDS = ("truncated", "wrong_count", "garbage", "invalid_utf8")


def malform(frame: str, kind: str) -> str | bytes:
    """Damage a data frame the way a broken feed would. invalid_utf8 returns bytes for a TEXT frame."""
    if kind == "truncated":
        return frame[: max(1, len(frame) // 2)]
    if kind == "wrong_count":
        enc, tr, nnn, payload = frame.split("|", 3)
        return f"{enc}|{tr}|{int(nnn) + 1:03d}|{payload}"
    if kind == "garbage":
        return "\x00#garbage#|%%|" + frame[::-1][:40]
    return frame.encode("utf-8")[:20] + b"\xff\xfe\xc3(" + frame.encode("utf-8")[20:]
