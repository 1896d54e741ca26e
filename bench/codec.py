"""Decode throughput of the KIS codec vs a naive split('^') baseline, measured in the same run.

Full path = parse_message + to_event for every record (typed Trade / OrderBook with ints, Decimals,
aware datetimes). Baseline = `raw.split('|', 3)`, `payload.split('^')`, `dict(zip(columns, ...))` per
record, no typing. Frames carry advancing exchange times (one new second every 10 frames) so the
timestamp cache sees a realistic hit rate. Prints a table; takes well under a minute.

    .venv/bin/python bench/codec.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backbone.kis.codec import parse_message  # noqa: E402
from backbone.kis.layouts import H0STASP0, H0STCNT0  # noqa: E402
from backbone.kis.normalize import to_event  # noqa: E402

N = 20_000
REPEATS = 5

CNT = ("005930^112616^62700^2^400^0.64^62700.41^62700^63000^62300^62700^62600^125^9694968^607878273600^25807"
       "^15918^-9889^93.01^4614191^4291558^1^0.45^63.03^090013^3^0^090646^5^-300^100741^2^400^20230324^20^N"
       "^71292^244009^2795345^2044512^0.16^5367918^180.61^0^^62700").split("^")
ASP = ("005930^113019^0^77900^78000^78100^78200^78300^78400^78500^78600^78700^78800^77800^77700^77600^77500"
       "^77400^77300^77200^77100^77000^76900^265881^424306^210852^183696^185249^115895^175905^61693^73772"
       "^63546^14941^219089^328178^246894^220916^131997^140399^127233^211404^214927^1760795^1855978^0^0^0^0"
       "^344212^-77200^5^-100.00^10358640^0^10^0^0^0^323750^0^0").split("^")


def hms(i: int) -> str:
    s = 9 * 3600 + i // 10
    return f"{s // 3600:02d}{s // 60 % 60:02d}{s % 60:02d}"


def cnt_payload(i: int) -> str:
    v = list(CNT)
    v[1] = hms(i)
    v[2] = str(62000 + (i % 50) * 100)
    v[12] = str(1 + i % 300)
    v[13] = str(9694968 + i)
    return "^".join(v)


def asp_payload(i: int) -> str:
    v = list(ASP)
    v[1] = hms(i)
    v[23] = str(265881 + i % 1000)
    return "^".join(v)


def frames(tr_id: str, per_frame: int, make) -> list[str]:
    return [f"0|{tr_id}|{per_frame:03d}|" + "^".join(make(i * per_frame + j) for j in range(per_frame))
            for i in range(N)]


def full(raws: list[str]) -> int:
    n = 0
    for raw in raws:
        for rec in parse_message(raw).records:
            to_event(rec)
            n += 1
    return n


def parse_only(raws: list[str]) -> int:
    n = 0
    for raw in raws:
        n += len(parse_message(raw).records)
    return n


def naive(columns: tuple[str, ...], width: int):
    def run(raws: list[str]) -> int:
        n = 0
        for raw in raws:
            _, _, count, payload = raw.split("|", 3)
            values = payload.split("^")
            for k in range(int(count)):
                dict(zip(columns, values[k * width:(k + 1) * width]))
                n += 1
        return n
    return run


def best_seconds(fn, raws) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn(raws)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    cases = [
        ("H0STCNT0 46f x1", frames("H0STCNT0", 1, cnt_payload), H0STCNT0[:46], 46),
        ("H0STCNT0 46f x4", frames("H0STCNT0", 4, cnt_payload), H0STCNT0[:46], 46),
        ("H0STASP0 62f x1", frames("H0STASP0", 1, asp_payload), H0STASP0[:62], 62),
    ]
    # sanity: the full path really produces typed events
    assert type(to_event(parse_message(cases[0][1][0]).records[0])).__name__ == "Trade"
    assert type(to_event(parse_message(cases[2][1][0]).records[0])).__name__ == "OrderBook"
    print(f"python {sys.version.split()[0]}; {N} frames per case, best of {REPEATS}\n")
    head = f"{'case':<17} {'path':<24} {'frames/s':>10} {'us/frame':>9} {'us/record':>10} {'x naive':>8}"
    print(head)
    print("-" * len(head))
    for name, raws, cols, width in cases:
        per = int(raws[0].split("|")[2])
        t_naive = best_seconds(naive(cols, width), raws)
        for label, fn in (("naive split+zip dict", None), ("parse_message only", parse_only),
                          ("full (parse+to_event)", full)):
            t = t_naive if fn is None else best_seconds(fn, raws)
            print(f"{name:<17} {label:<24} {N / t:>10,.0f} {t / N * 1e6:>9.2f} {t / N / per * 1e6:>10.2f} "
                  f"{t / t_naive:>8.2f}")
        print()


if __name__ == "__main__":
    main()
