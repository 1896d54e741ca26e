"""Field layouts of KIS real-time data frames (column names verbatim from KIS's own samples).

A record of a TR is a `^`-separated list of values; its column names are the prefix of the list
below. KIS has grown layouts over time (H0STASP0 59 -> 62 -> 63, H0STCNI0 23 -> 26, H0STCNT0
46 -> 47), so decoders map the known prefix by name and keep any extra trailing values, and the
per-record width is always derived from the frame's own record count, never assumed from here.

This module is the single shared contract between the decoder (backbone.kis.codec) and the
simulator's encoder (simulator.frames). See ../shared/reference/kis-protocol.md section 5.
"""
from __future__ import annotations

# H0STCNT0 국내주식 실시간체결가 (KRX): 46 fields; a 47th (MARKET_CLS_CODE) announced for 2026-09-14.
H0STCNT0: tuple[str, ...] = (
    "MKSC_SHRN_ISCD", "STCK_CNTG_HOUR", "STCK_PRPR", "PRDY_VRSS_SIGN", "PRDY_VRSS", "PRDY_CTRT",
    "WGHN_AVRG_STCK_PRC", "STCK_OPRC", "STCK_HGPR", "STCK_LWPR", "ASKP1", "BIDP1", "CNTG_VOL",
    "ACML_VOL", "ACML_TR_PBMN", "SELN_CNTG_CSNU", "SHNU_CNTG_CSNU", "NTBY_CNTG_CSNU", "CTTR",
    "SELN_CNTG_SMTN", "SHNU_CNTG_SMTN", "CCLD_DVSN", "SHNU_RATE", "PRDY_VOL_VRSS_ACML_VOL_RATE",
    "OPRC_HOUR", "OPRC_VRSS_PRPR_SIGN", "OPRC_VRSS_PRPR", "HGPR_HOUR", "HGPR_VRSS_PRPR_SIGN",
    "HGPR_VRSS_PRPR", "LWPR_HOUR", "LWPR_VRSS_PRPR_SIGN", "LWPR_VRSS_PRPR", "BSOP_DATE",
    "NEW_MKOP_CLS_CODE", "TRHT_YN", "ASKP_RSQN1", "BIDP_RSQN1", "TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN",
    "VOL_TNRT", "PRDY_SMNS_HOUR_ACML_VOL", "PRDY_SMNS_HOUR_ACML_VOL_RATE", "HOUR_CLS_CODE",
    "MRKT_TRTM_CLS_CODE", "VI_STND_PRC",
    "MARKET_CLS_CODE",  # 47th, announced 2026-09-14 (position unconfirmed)
)

# H0STASP0 국내주식 실시간호가 (KRX): 59 classic, 62 current (MID_PRC...), 63 announced.
H0STASP0: tuple[str, ...] = (
    ("MKSC_SHRN_ISCD", "BSOP_HOUR", "HOUR_CLS_CODE")
    + tuple(f"ASKP{i}" for i in range(1, 11))
    + tuple(f"BIDP{i}" for i in range(1, 11))
    + tuple(f"ASKP_RSQN{i}" for i in range(1, 11))
    + tuple(f"BIDP_RSQN{i}" for i in range(1, 11))
    + (
        "TOTAL_ASKP_RSQN", "TOTAL_BIDP_RSQN", "OVTM_TOTAL_ASKP_RSQN", "OVTM_TOTAL_BIDP_RSQN",
        "ANTC_CNPR", "ANTC_CNQN", "ANTC_VOL", "ANTC_CNTG_VRSS", "ANTC_CNTG_VRSS_SIGN",
        "ANTC_CNTG_PRDY_CTRT", "ACML_VOL", "TOTAL_ASKP_RSQN_ICDC", "TOTAL_BIDP_RSQN_ICDC",
        "OVTM_TOTAL_ASKP_ICDC", "OVTM_TOTAL_BIDP_ICDC", "STCK_DEAL_CLS_CODE",
        "MID_PRC", "MIDP_TOTAL_RSQN", "MIDP_CLS_CODE",  # 62-field layout
        "MARKET_CLS_CODE",  # 63rd, announced (position unconfirmed)
    )
)

# H0STCNI0 (real) / H0STCNI9 (paper) 국내주식 실시간체결통보: 26 fields (23 before 2025), AES encrypted.
H0STCNI0: tuple[str, ...] = (
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND",
    "ODER_COND", "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN",
    "ACPT_YN", "BRNC_NO", "ODER_QTY", "ACNT_NAME", "ORD_COND_PRC", "ORD_EXG_GB", "POPUP_YN",
    "FILLER", "CRDT_CLS", "CRDT_LOAN_DATE", "CNTG_ISNM40", "ODER_PRC",
)
# The pre-2025 23-field notice layout (portal example): CNTG_ISNM at 18, no NXT fields.
H0STCNI0_LEGACY23: tuple[str, ...] = (
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND",
    "ODER_COND", "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN",
    "ACPT_YN", "BRNC_NO", "ODER_QTY", "ACNT_NAME", "CNTG_ISNM", "CRDT_CLS", "CRDT_LOAN_DATE",
    "CNTG_ISNM40", "ODER_PRC",
)

# H0GSCNI0 / H0GSCNI9 해외주식 실시간체결통보: 25 fields, AES encrypted.
H0GSCNI0: tuple[str, ...] = (
    "CUST_ID", "ACNT_NO", "ODER_NO", "OODER_NO", "SELN_BYOV_CLS", "RCTF_CLS", "ODER_KIND2",
    "STCK_SHRN_ISCD", "CNTG_QTY", "CNTG_UNPR", "STCK_CNTG_HOUR", "RFUS_YN", "CNTG_YN", "ACPT_YN",
    "BRNC_NO", "ODER_QTY", "ACNT_NAME", "CNTG_ISNM", "ODER_COND", "DEBT_GB", "DEBT_DATE",
    "START_TM", "END_TM", "TM_DIV_TP", "CNTG_UNPR12",
)

# HDFSCNT0 해외주식 실시간지연체결가: 26 fields on the wire (starts with RSYM).
HDFSCNT0: tuple[str, ...] = (
    "RSYM", "SYMB", "ZDIV", "TYMD", "XYMD", "XHMS", "KYMD", "KHMS", "OPEN", "HIGH", "LOW", "LAST",
    "SIGN", "DIFF", "RATE", "PBID", "PASK", "VBID", "VASK", "EVOL", "TVOL", "TAMT", "BIVL", "ASVL",
    "STRN", "MTYP",
)

_OVERSEAS_BOOK_HEAD = ("RSYM", "SYMB", "ZDIV", "XYMD", "XHMS", "KYMD", "KHMS", "BVOL", "AVOL", "BDVL", "ADVL")


def _overseas_levels(n: int) -> tuple[str, ...]:
    out: list[str] = []
    for i in range(1, n + 1):
        out += [f"PBID{i}", f"PASK{i}", f"VBID{i}", f"VASK{i}", f"DBID{i}", f"DASK{i}"]
    return tuple(out)


# HDFSASP0 해외주식 실시간호가 (US, 10 levels): 71 fields.
HDFSASP0: tuple[str, ...] = _OVERSEAS_BOOK_HEAD + _overseas_levels(10)
# HDFSASP1 해외주식 지연호가 (Asia, 1 level): 17 fields.
HDFSASP1: tuple[str, ...] = _OVERSEAS_BOOK_HEAD + _overseas_levels(1)

# H0STMKO0 국내주식 장운영정보: 11 documented, 10 seen live (no EXCH_CLS_CODE).
H0STMKO0: tuple[str, ...] = (
    "MKSC_SHRN_ISCD", "TRHT_YN", "TR_SUSP_REAS_CNTT", "MKOP_CLS_CODE", "ANTC_MKOP_CLS_CODE",
    "MRKT_TRTM_CLS_CODE", "DIVI_APP_CLS_CODE", "ISCD_STAT_CLS_CODE", "VI_CLS_CODE",
    "OVTM_VI_CLS_CODE", "EXCH_CLS_CODE",
)

# H0UPCNT0 국내지수 실시간체결: 30 fields.
H0UPCNT0: tuple[str, ...] = (
    "BSTP_CLS_CODE", "BSOP_HOUR", "PRPR_NMIX", "PRDY_VRSS_SIGN", "BSTP_NMIX_PRDY_VRSS", "ACML_VOL",
    "ACML_TR_PBMN", "PCAS_VOL", "PCAS_TR_PBMN", "PRDY_CTRT", "OPRC_NMIX", "NMIX_HGPR", "NMIX_LWPR",
    "OPRC_VRSS_NMIX_PRPR", "OPRC_VRSS_NMIX_SIGN", "HGPR_VRSS_NMIX_PRPR", "HGPR_VRSS_NMIX_SIGN",
    "LWPR_VRSS_NMIX_PRPR", "LWPR_VRSS_NMIX_SIGN", "PRDY_CLPR_VRSS_OPRC_RATE",
    "PRDY_CLPR_VRSS_HGPR_RATE", "PRDY_CLPR_VRSS_LWPR_RATE", "UPLM_ISSU_CNT", "ASCN_ISSU_CNT",
    "STNR_ISSU_CNT", "DOWN_ISSU_CNT", "LSLM_ISSU_CNT", "QTQT_ASCN_ISSU_CNT", "QTQT_DOWN_ISSU_CNT",
    "TICK_VRSS",
)

# Column lists by TR id. Paper notice TRs share the real layout.
LAYOUTS: dict[str, tuple[str, ...]] = {
    "H0STCNT0": H0STCNT0,
    "H0STASP0": H0STASP0,
    "H0STCNI0": H0STCNI0,
    "H0STCNI9": H0STCNI0,
    "H0GSCNI0": H0GSCNI0,
    "H0GSCNI9": H0GSCNI0,
    "HDFSCNT0": HDFSCNT0,
    "HDFSASP0": HDFSASP0,
    "HDFSASP1": HDFSASP1,
    "H0STMKO0": H0STMKO0,
    "H0UPCNT0": H0UPCNT0,
}

# Widths KIS has been seen (or announced) to send; anything else still decodes but is counted.
KNOWN_WIDTHS: dict[str, frozenset[int]] = {
    "H0STCNT0": frozenset({46, 47}),
    "H0STASP0": frozenset({59, 62, 63}),
    "H0STCNI0": frozenset({23, 26}),
    "H0STCNI9": frozenset({23, 26}),
    "H0GSCNI0": frozenset({25}),
    "H0GSCNI9": frozenset({25}),
    "HDFSCNT0": frozenset({25, 26}),
    "HDFSASP0": frozenset({71}),
    "HDFSASP1": frozenset({17}),
    "H0STMKO0": frozenset({10, 11}),
    "H0UPCNT0": frozenset({30}),
}

# TRs whose payload is AES-256-CBC encrypted (execution / order notices), keyed by HTS ID.
ENCRYPTED_TRS: frozenset[str] = frozenset({
    "H0STCNI0", "H0STCNI9", "H0GSCNI0", "H0GSCNI9", "H0IFCNI0", "H0IFCNI9", "H0MFCNI0", "H0EUCNI0",
    "HDFFF2C0",
})
