"""Trends as pictures: cases by month and what was happening, and how long cases waited to be picked up.

`chart_data` works out the figures (pure, from the cases and their events, over the months the trends cover);
`chart_png` draws them with matplotlib as one PNG; `chart_reply` makes that a file for the person who asked
(uploaded to their Slack DM, offered in their Teams chat, saved beside the database in the console). Only
counts: never a reference, a reporter, a name or anything anyone wrote. The labels are in
content/messages/stats.yaml (`stats.chart.*`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from io import BytesIO

from matplotlib.figure import Figure
from pydantic import BaseModel, Field

from bot.cases.stats import category_label, pick_up_seconds
from bot.core.content import Content
from bot.core.models import Case, CaseEvent, FileReply, Reply

# Upper bounds of each band of time to pick up, in hours; the last band has none.
PICK_UP_BANDS = (("within_hour", 1.0), ("within_4_hours", 4.0), ("within_day", 24.0), ("within_3_days", 72.0),
                 ("longer", None))
# Colours that stay apart for people who see colour differently (Okabe and Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


class ChartData(BaseModel):
    months: list[str] = Field(description="YYYY-MM, every month the trends cover, oldest first")
    by_category: dict[str, list[int]] = Field(description="category id -> cases reported each month (as `months`)")
    pick_up: dict[str, int] = Field(description="band of time to pick up -> cases; 'waiting' for none yet")


def chart_data(cases: list[Case], events: dict[str, list[CaseEvent]], months: list[str]) -> ChartData:
    """The chart's figures. A case counts under each of its categories in the month it was reported (UTC), as in
    the trends; only cases reported in `months` count."""
    index = {m: n for n, m in enumerate(months)}
    counted = [c for c in cases if c.created_at.astimezone(timezone.utc).strftime("%Y-%m") in index]
    by_category: dict[str, list[int]] = {}
    pick_up = {band: 0 for band, _ in PICK_UP_BANDS} | {"waiting": 0}
    for case in sorted(counted, key=lambda c: c.created_at):
        month = index[case.created_at.astimezone(timezone.utc).strftime("%Y-%m")]
        for category in dict.fromkeys(case.categories):
            by_category.setdefault(category, [0] * len(months))[month] += 1
        seconds = pick_up_seconds(case, sorted(events.get(case.id, []), key=lambda e: e.at))
        pick_up[pick_up_band(seconds)] += 1
    return ChartData(months=months, by_category=by_category, pick_up=pick_up)


def pick_up_band(seconds: float | None) -> str:
    if seconds is None:
        return "waiting"
    hours = seconds / 3600
    return next(band for band, limit in PICK_UP_BANDS if limit is None or hours <= limit)


def chart_png(content: Content, data: ChartData) -> bytes:
    """Both charts side by side, as a PNG."""
    figure = Figure(figsize=(11, 4.5), dpi=100, layout="constrained")
    by_month, pick_up = figure.subplots(1, 2, width_ratios=(3, 2))
    labels = [datetime.strptime(m, "%Y-%m").strftime("%b %Y") for m in data.months]
    bottom = [0] * len(data.months)
    for n, (category, counts) in enumerate(data.by_category.items()):
        by_month.bar(labels, counts, bottom=bottom, label=category_label(content, category),
                     color=PALETTE[n % len(PALETTE)])
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    by_month.set_title(content.text("stats.chart.by_month_title"))
    by_month.set_ylabel(content.text("stats.chart.cases"))
    by_month.yaxis.get_major_locator().set_params(integer=True)
    by_month.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0)
    if data.by_category:
        by_month.legend(fontsize="small", loc="upper left")
    bands = list(data.pick_up)
    pick_up.barh([content.text(f"stats.chart.band.{b}") for b in bands], [data.pick_up[b] for b in bands],
                 color=PALETTE[0])
    pick_up.invert_yaxis()
    pick_up.set_title(content.text("stats.chart.pick_up_title"))
    pick_up.set_xlabel(content.text("stats.chart.cases"))
    pick_up.xaxis.get_major_locator().set_params(integer=True)
    out = BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def chart_reply(content: Content, data: ChartData, name: str) -> Reply:
    """The chart as a file for the person who asked, named `name` (e.g. trends-2026-12-05.png)."""
    return Reply(key="stats.chart.ready", text=content.text("stats.chart.ready"),
                 file=FileReply(name=name, media_type="image/png", content=chart_png(content, data)))
