"""The planted re-engagement of lost prospects (accounts whose only deals are lost new-logo deals).

Every month after its loss a prospect has a planted probability of coming back: a new-business opportunity
opened on it. The monthly log-odds are a known function of what the data shows about the lost deal:

    -3.4 + 0.45 * ln(amount / 20,000) (clipped to +-2.5) + 0.55 * (furthest open stage reached, 0-3)
         + industry effect (fixed, N(0, 0.45) per industry) + time since the loss
           (-1.2 in the first two months, then -0.07 per month after the second)

`p_180d` = 1 - prod over the next six months of (1 - p_month), exact because the time term is known; it is
stored per prospect and month-end in `truth_prospects` (the last `TRUTH_MONTHS`). A prospect comes back at
most once per loss; a new deal lost again makes it a prospect again (up to `MAX_ROUNDS` times). The new deal (same product, owner and a similar amount) moves through the open stages and is
lost at the end of its cycle, or is still open at as_of: the simulator's lifecycle does not turn a prospect
into a customer after the fact, so in the demo no re-engaged deal is won. Its own random stream
(`SEED_SALT`): the rest of the demo is drawn exactly as before.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .sales import CATEGORIES, CATEGORY_CODE_OF_STAGE, CYCLE_DAYS, STAGES

DRIVERS = {
    "deal_size": "amount of the lost new-logo deal (larger deals come back more often)",
    "lost_stage": "the furthest open stage the lost deal reached",
    "industry": "industry of the prospect",
    "time_since_loss": "months since the loss (a cooling-off of two months, then fading)",
}
SEED_SALT = 1919
TRUTH_MONTHS = 18
MAX_ROUNDS = 4
HORIZON_MONTHS = 6
INTERCEPT, SIZE_W, STAGE_W, COOL_OFF, FADE = -3.4, 0.45, 0.55, -1.2, -0.07
INDUSTRY_SD = 0.45


def industry_effect(industries: list[str]) -> dict[str, float]:
    """Fixed per industry name (sorted), not drawn per seed."""
    names = sorted(industries)
    return dict(zip(names, np.random.default_rng(SEED_SALT).normal(0.0, INDUSTRY_SD, len(names)), strict=True))


def monthly_logit(amount, stage_reached, industry_eff, months_since) -> np.ndarray:
    size = np.clip(np.log(np.maximum(np.asarray(amount, float), 1.0) / 20_000.0), -2.5, 2.5)
    m = np.asarray(months_since, float)
    time = np.where(m <= 2, COOL_OFF, FADE * (m - 2))
    return INTERCEPT + SIZE_W * size + STAGE_W * np.asarray(stage_reached, float) + industry_eff + time


def lost_prospects(accounts: pd.DataFrame, subs: pd.DataFrame, opps: pd.DataFrame,
                   history: pd.DataFrame) -> pd.DataFrame:
    """Accounts with no subscription whose every deal is a lost new-logo deal: the latest loss, its amount,
    product, owner and furthest open stage."""
    customers = set(subs["account_id"])
    o = opps[~opps["account_id"].isin(customers)]
    ok = o.groupby("account_id").apply(lambda g: bool((g["is_closed"] & ~g["is_won"] & (g["type"] == "new")).all()),
                                       include_groups=False)
    o = o[o["account_id"].isin(ok[ok].index)]
    h = history[history["opportunity_id"].astype(object).isin(set(o["opportunity_id"]))]
    order = pd.Series(np.arange(len(STAGES)), index=STAGES)
    open_rank = h["stage"].astype(object).map(order)
    reached = open_rank.where(open_rank < 4).groupby(h["opportunity_id"].astype(object)).max()
    last = o.sort_values(["account_id", "close_date"]).groupby("account_id").tail(1).set_index("account_id")
    seg = accounts.set_index("account_id")
    return pd.DataFrame({
        "account_id": last.index, "lost_date": pd.to_datetime(last["close_date"]).to_numpy(),
        "amount": last["amount_usd"].to_numpy(float), "product_id": last["product_id"].to_numpy(),
        "owner_id": last["owner_id"].to_numpy(),
        "stage_reached": reached.reindex(last["opportunity_id"]).fillna(0).to_numpy(),
        "industry": seg["industry"].reindex(last.index).to_numpy(),
        "segment": seg["segment"].reindex(last.index).to_numpy()}).reset_index(drop=True)


def _months_between(a: pd.Series | np.ndarray, b: pd.Timestamp) -> np.ndarray:
    return (pd.Timestamp(b) - pd.to_datetime(pd.Series(a))).dt.days.to_numpy() / 30.44


def plant(accounts: pd.DataFrame, subs: pd.DataFrame, opps: pd.DataFrame, history: pd.DataFrame,
          segments: list[str], seed: int, as_of: pd.Timestamp, next_id: int) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                      pd.DataFrame]:
    """(new opportunities, their history rows, truth_prospects) for the demo's lost prospects; the new
    deals are numbered from `next_id` (the first opportunity number not used by any drawn deal). A prospect
    whose new deal is lost again is a prospect again, its hazard restarting from that loss (`MAX_ROUNDS`)."""
    rng = np.random.default_rng([seed, SEED_SALT])
    pro = lost_prospects(accounts, subs, opps, history)
    eff = industry_effect(list(accounts["industry"].dropna().unique()))
    pro["industry_eff"] = pro["industry"].map(eff).fillna(0.0).to_numpy(float)
    as_of = pd.Timestamp(as_of)
    ends = pd.date_range(pro["lost_date"].min() + pd.offsets.MonthEnd(0), as_of + pd.offsets.MonthEnd(HORIZON_MONTHS),
                         freq="ME")
    opp_parts, hist_parts, truth_parts = [], [], []
    for _ in range(MAX_ROUNDS):
        if pro.empty:
            break
        p, event = _draw(rng, pro, ends)
        pro["reengaged"] = event
        truth_parts.append(_truth(pro, ends, p))
        back = pro[pro["reengaged"] <= as_of].reset_index(drop=True)
        new_opps, new_hist = _deals(rng, back, next_id, segments, as_of)
        next_id += len(new_opps)
        opp_parts.append(new_opps)
        hist_parts.append(new_hist)
        lost_again = new_opps["is_closed"].to_numpy()  # never won in the demo: a closed deal is a new loss
        stage = new_hist.assign(code=pd.Index(STAGES).get_indexer(new_hist["stage"]))
        reached = stage[stage.code < 4].groupby("opportunity_id")["code"].max()
        pro = back[lost_again].assign(
            lost_date=new_opps.loc[lost_again, "close_date"].to_numpy(),
            amount=new_opps.loc[lost_again, "amount_usd"].to_numpy(),
            stage_reached=reached.reindex(new_opps.loc[lost_again, "opportunity_id"]).fillna(0).to_numpy()
        ).reset_index(drop=True)
    empty = (pd.DataFrame(columns=["account_id", "month", "p_month", "p_180d"]),)
    return (pd.concat(opp_parts, ignore_index=True), pd.concat(hist_parts, ignore_index=True),
            pd.concat([*truth_parts, *empty[: not truth_parts]], ignore_index=True)
            .sort_values(["month", "account_id"], ignore_index=True))


def _draw(rng, pro: pd.DataFrame, ends: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Monthly probabilities (n, months; 0 before the loss) and the first re-engagement day (NaT: none)."""
    since = np.stack([_months_between(pro["lost_date"], e) for e in ends], axis=1)  # (n, months)
    p = 1 / (1 + np.exp(-monthly_logit(pro["amount"].to_numpy()[:, None], pro["stage_reached"].to_numpy()[:, None],
                                       pro["industry_eff"].to_numpy()[:, None], since)))
    p = np.where(since > 0, p, 0.0)  # the month ending at ends[j] is after the loss
    draw = rng.random(p.shape) < p
    first = np.where(draw.any(1), draw.argmax(1), -1)
    month_start = (ends - pd.offsets.MonthBegin(1)).to_numpy()
    event = np.full(len(pro), np.datetime64("NaT"), dtype="datetime64[ns]")
    hit = first >= 0
    lo = np.maximum(month_start[first[hit]], pro["lost_date"].to_numpy()[hit] + np.timedelta64(1, "D"))
    span = (ends.to_numpy()[first[hit]] - lo).astype("timedelta64[D]").astype(int) + 1
    event[hit] = lo + (rng.random(hit.sum()) * span).astype(int).astype("timedelta64[D]")
    return p, event


def _truth(pro: pd.DataFrame, ends: pd.DatetimeIndex, p: np.ndarray) -> pd.DataFrame:
    rows = []
    keep = ends[(ends <= ends[-1] - pd.offsets.MonthEnd(HORIZON_MONTHS))][-TRUTH_MONTHS:]
    for t in keep:
        j = ends.get_loc(t)
        ok = (pro["lost_date"].to_numpy() <= t) & ~(pro["reengaged"].to_numpy() <= t)  # dormant at t
        nxt = p[ok, j + 1: j + 1 + HORIZON_MONTHS]
        rows.append(pd.DataFrame({"account_id": pro.loc[ok, "account_id"].to_numpy(),
                                  "month": (t - pd.offsets.MonthBegin(1)).normalize(),
                                  "p_month": nxt[:, 0], "p_180d": 1 - np.prod(1 - nxt, axis=1)}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["account_id", "month", "p_month", "p_180d"])


def _deals(rng, back: pd.DataFrame, start: int, segments: list[str], as_of: pd.Timestamp
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A new-business deal per re-engaged prospect: through the open stages, lost at the end of its cycle
    (or still open at as_of)."""
    n = len(back)
    ids = np.array([f"O{start + i:07d}" for i in range(n)], dtype=object)
    seg = pd.Index(segments).get_indexer(back["segment"]).clip(0)
    cycle = (CYCLE_DAYS[seg] * rng.lognormal(0, 0.35, n)).astype(int) + 7
    created = pd.to_datetime(back["reengaged"]).to_numpy()
    close = created + cycle.astype("timedelta64[D]")
    amount = np.round(back["amount"].to_numpy() * rng.lognormal(0, 0.25, n), 2)
    top = rng.choice(4, size=n, p=[0.35, 0.30, 0.20, 0.15])
    frac = np.sort(rng.uniform(0.05, 0.95, size=(n, 3)), axis=1)
    hist = []
    for s in range(4):
        day = created if s == 0 else created + (frac[:, s - 1] * cycle).astype(int).astype("timedelta64[D]")
        ok = (top >= s) & (day <= as_of.to_datetime64())
        hist.append(pd.DataFrame({"opportunity_id": ids[ok], "snapshot_date": day[ok], "stage_code": s,
                                  "amount_usd": amount[ok], "close_date": close[ok]}))
    closed = close <= as_of.to_datetime64()
    hist.append(pd.DataFrame({"opportunity_id": ids[closed], "snapshot_date": close[closed], "stage_code": 5,
                              "amount_usd": amount[closed], "close_date": close[closed]}))
    h = pd.concat(hist, ignore_index=True).sort_values(["opportunity_id", "snapshot_date", "stage_code"])
    h = h.drop_duplicates(["opportunity_id", "snapshot_date"], keep="last")
    h["stage"] = STAGES[h["stage_code"].to_numpy()]
    h["forecast_category"] = np.asarray(CATEGORIES)[CATEGORY_CODE_OF_STAGE[h["stage_code"].to_numpy()]]
    now = h.groupby("opportunity_id")["stage_code"].last().reindex(ids).to_numpy()
    new_opps = pd.DataFrame({
        "opportunity_id": ids, "account_id": back["account_id"].to_numpy(), "owner_id": back["owner_id"].to_numpy(),
        "product_id": back["product_id"].to_numpy(), "type": "new", "amount_usd": amount,
        "created_date": created, "close_date": close, "stage": STAGES[now],
        "forecast_category": np.asarray(CATEGORIES)[CATEGORY_CODE_OF_STAGE[now]], "is_closed": now >= 4,
        "is_won": np.zeros(n, bool)})
    return new_opps, h.drop(columns="stage_code").reset_index(drop=True)
