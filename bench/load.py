"""The shared load generator: conversations against a server in its own process, and the comparison tables.

Each conversation sends one turn, waits for its reply to arrive at the fake platform API (which runs in this
process), then sends the next (at once, or after a pause, see `Plan`): so `n` conversations keep at most `n`
turns in flight. A level runs a warm-up (not recorded), then a measured window; turns that *start* in the
window are recorded, and every turn in flight when it closes is waited for, so no reply goes unchecked.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import aiohttp

from testing.chat import STANDARD_REPORT

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
REPLY_TIMEOUT = 10.0  # seconds for a reply to arrive before the turn counts as lost
REPORT = [*STANDARD_REPORT, ["send"]]  # to the summary, then send it: a case for the DSL and deputy


class Conversation(Protocol):
    async def turn(self) -> float:
        """Send one turn and wait for its reply; the seconds from sending to the reply's arrival."""


class Target(Protocol):
    """A server under test and its fake platform API: the bare SDK echo, or our bot."""

    server: Server

    async def start(self) -> None: ...

    def conversations(self, n: int) -> list[Conversation]:
        """`n` new conversations (new people, so each starts from the beginning)."""

    def unexpected(self, conversations: list[Conversation]) -> int:
        """Replies that arrived for these conversations that no turn asked for."""

    async def finish(self) -> dict[str, Any]:
        """Stop the server and the fake; the end-of-run checks (cases, case cards, errors logged)."""


@dataclass(frozen=True)
class Plan:
    """How hard and how long: the concurrency levels, and for each the seconds of warm-up and of measurement;
    or, with `turns`, exactly that many turns per conversation, all recorded (for smoke tests).

    At `levels` each conversation sends its next turn as soon as the last reply arrives: the most the server
    can do, and latency there is mostly queueing (with n conversations, n / throughput on average). At `paced`
    levels each person pauses between turns, uniformly between half and one and a half times `think` seconds,
    as people do (they read and type for longer still): latency under a heavy but not saturating load."""

    levels: tuple[int, ...]
    warmup: float
    seconds: float
    turns: int | None = None
    paced: tuple[int, ...] = ()
    think: float = 1.0
    growth_reports: int = 0  # then ours alone, at `growth_conversations`, until this many reports in all (`grow`)
    growth_window: float = 5.0
    growth_conversations: int = 20


GROWTH_FLAT = 1.15  # CPU per turn at the end over the start: identical runs differ by about 8% on this machine
FULL = Plan(levels=(1, 20, 100), warmup=2.0, seconds=12.0, paced=(100,), think=1.0, growth_reports=1000)
QUICK = Plan(levels=(1, 20), warmup=0.2, seconds=0.6, paced=(20,), think=0.2)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class Sample:
    """What one stretch of load against one server gave."""

    latencies: list[float] = field(default_factory=list)
    turns: int = 0  # with the warm-up's
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0  # measured
    elapsed: float = 0.0  # with the warm-up
    server_cpu: float = 0.0
    loadgen_cpu: float = 0.0


async def drive(conversations: list[Conversation], warmup: float, seconds: float, turns: int | None,
                server: Server, failed: set[Conversation], think: float = 0.0) -> Sample:
    """Drive the conversations in a closed loop: for `warmup` + `seconds` (recording the turns that start after
    the warm-up), or for exactly `turns` turns each, all recorded; with `think`, each pausing before each turn
    (see Plan). A conversation whose reply is lost or wrong is counted, and joins `failed`: it is not driven
    again."""
    pauses = random.Random(len(conversations))
    loop = asyncio.get_running_loop()
    # The fakes keep every body they are sent, so this process's heap grows all run long: the cyclic garbage
    # collector, left on, would pause it for longer and longer, and the pauses would show as the server's latency.
    gc.collect()
    gc.disable()
    start = loop.time()
    cpu_start = (server.cpu_seconds(), time.process_time())
    measure_from, until = start + warmup, start + warmup + seconds
    sample = Sample()

    async def converse(conversation: Conversation) -> None:
        done = 0
        while conversation not in failed:
            if think:
                await asyncio.sleep(pauses.uniform(0.5, 1.5) * think)
            began = loop.time()
            if (done >= turns) if turns is not None else (began >= until):
                return
            try:
                latency = await conversation.turn()
            except Exception as exc:
                sample.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                failed.add(conversation)
                return
            done += 1
            sample.turns += 1
            if turns is not None or began >= measure_from:
                sample.latencies.append(latency)

    try:
        await asyncio.gather(*(converse(c) for c in conversations))
    finally:
        gc.enable()
    sample.elapsed = loop.time() - start
    sample.seconds = sample.elapsed if turns is not None else seconds
    sample.server_cpu = server.cpu_seconds() - cpu_start[0]
    sample.loadgen_cpu = time.process_time() - cpu_start[1]
    return sample


def level_stats(n: int, think: float, samples: list[Sample]) -> dict[str, Any]:
    latencies = sorted(x for s in samples for x in s.latencies)
    seconds, elapsed = sum(s.seconds for s in samples), sum(s.elapsed for s in samples)
    errors = [e for s in samples for e in s.errors]
    return {
        "conversations": n,
        "think_s": think,
        "turns": len(latencies),
        "seconds": round(seconds, 2),
        "turns_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "server_cpu_percent": round(100 * sum(s.server_cpu for s in samples) / elapsed),
        # CPU time per turn: much steadier than turns per second when others share the machine.
        "server_cpu_ms_per_turn": round(1000 * sum(s.server_cpu for s in samples)
                                        / max(1, sum(s.turns for s in samples)), 2),
        "loadgen_cpu_percent": round(100 * sum(s.loadgen_cpu for s in samples) / elapsed),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without any of the bot's or the platforms' settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OSB_", "CONNECTIONS__", "TEAMS_"))}
    env.update(settings)
    return env


class Server:
    """A server under test in a process of its own, started the same way for our bot and the bare ones.
    Its log goes to a file (our server logs each request at INFO, as in production), checked afterwards."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, prefix: list[str] | None = None):
        self.args, self.env, self.log = args, env, log
        self.prefix = prefix or []  # a command the server runs under (valgrind, for `bench --instructions`)
        self.start_timeout = 30.0
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float | None = None) -> None:
        timeout = timeout or self.start_timeout
        with self.log.open("ab") as log:
            command = [*self.prefix, sys.executable, *self.args, "--port", str(self.port)]
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError(f"{self.args} exited with {self.process.returncode}: " + "\n".join(tail))
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.args} did not answer /healthz within {timeout} s")

    def signal(self, sig: int) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, sig: int | None = None) -> None:
        if self.process and self.process.poll() is None:
            if sig is None:
                self.process.terminate()
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cpu_seconds(self) -> float:
        """User and system CPU time the server has used so far (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_lines(self, level: str) -> list[str]:
        """Lines of the server's log at `level` (e.g. ERROR)."""
        return [line for line in self.log.read_text(errors="replace").splitlines() if f" {level} " in line]


async def seed_staff(db: Path, handlers: dict[str, tuple[str, str]]) -> None:
    """A fresh database whose staff directory has these people (PLATFORM:USER -> role, name)."""
    from bot.core.models import Role, StaffMember
    from bot.store import SQLiteStore

    store = SQLiteStore(db)
    await store.open()
    for user, (role, name) in handlers.items():
        await store.upsert_staff(StaffMember(user=user, role=Role(role), name=name))
    await store.close()


async def count_cases(db: Path) -> int:
    from bot.store import SQLiteStore

    store = SQLiteStore(db)
    await store.open()
    try:
        return len(await store.list_cases("default"))
    finally:
        await store.close()


CARDS_WITHIN_SECONDS = 2.0  # the target: every case card delivered within 2 s of the load stopping


async def cards_delivered(cards: Callable[[], dict[str, int]], reports: int, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until each handler has a case card for every report sent (at most `timeout`): how many were still to
    come when it was called, the moment the load stopped, and how many seconds after that the last one arrived."""
    started = time.monotonic()
    behind = sum(max(0, reports - n) for n in cards().values())
    deadline = started + timeout
    while any(n < reports for n in cards().values()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return {"cards_behind_at_stop": behind, "cards_after_load_s": round(time.monotonic() - started, 2)}


async def end_checks(server: Server, db: Path | None, reports: int, cards: dict[str, int] | None,
                     delivery: dict[str, Any] | None = None) -> dict[str, Any]:
    """Once the server has stopped: errors in its log and, for ours (with `db`), a case in the store for every
    report sent and a case card for each in every handler's chat, and how soon after the load stopped the last
    card arrived (`delivery`, from `cards_delivered`)."""
    checks: dict[str, Any] = {"server_errors_logged": len(server.log_lines("ERROR")), **(delivery or {})}
    if delivery:
        checks["cards_within_target"] = delivery["cards_after_load_s"] <= CARDS_WITHIN_SECONDS
    found = [f"{checks['server_errors_logged']} errors in the server's log"] if checks["server_errors_logged"] else []
    if db is not None:
        checks.update(reports_sent=reports, cases_in_store=await count_cases(db), case_cards=cards)
        if checks["cases_in_store"] != reports:
            found.append(f"{reports} reports sent but {checks['cases_in_store']} cases in the store")
        found += [f"{u} has {n} case cards for {reports} cases" for u, n in (cards or {}).items() if n != reports]
    checks["problems"] = found
    return checks


class Mailboxes:
    """Replies as the fake platform API receives them, per conversation, each with its arrival time."""

    def __init__(self) -> None:
        self._boxes: dict[str, asyncio.Queue[tuple[float, dict[str, Any]]]] = {}
        self.counts: dict[str, int] = {}
        self.slower = 1.0  # how many times REPLY_TIMEOUT a reply may take (a server under valgrind is far slower)

    def box(self, key: str) -> asyncio.Queue[tuple[float, dict[str, Any]]]:
        if key not in self._boxes:
            self._boxes[key] = asyncio.Queue()
        return self._boxes[key]

    def arrived(self, key: str, body: dict[str, Any]) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        self.box(key).put_nowait((asyncio.get_running_loop().time(), body))

    async def next(self, key: str) -> tuple[float, dict[str, Any]]:
        timeout = REPLY_TIMEOUT * self.slower
        try:
            return await asyncio.wait_for(self.box(key).get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no reply in {key} within {timeout:g} s") from None

    def unexpected(self, keys: list[str]) -> int:
        """Replies that arrived for these conversations and that no turn asked for."""
        return sum(self.box(k).qsize() for k in keys)


class ScriptedConversation:
    """One person in a chat with the bot: numbered messages, each echoed (the bare servers), or the whole report
    (the tests' STANDARD_REPORT), sent, and begun again (ours). A channel says how to send a message and how to
    answer a step (typed, or buttons on the last reply); replies come from `mail`, under the chat's `key`."""

    def __init__(self, mail: Mailboxes, key: str, report: bool):
        self.mail, self.key, self.report = mail, key, report
        self.step = 0
        self.last: dict[str, Any] | None = None
        self.reports = 0

    async def say(self, text: str) -> None:
        raise NotImplementedError

    async def answer(self, step: str | list[str]) -> None:
        """Type `step`, or pick the choices it lists on `self.last`."""
        raise NotImplementedError

    @staticmethod
    def text_of(reply: dict[str, Any]) -> str:
        return reply.get("text") or ""

    async def turn(self) -> float:
        began = asyncio.get_running_loop().time()
        if not self.report:
            text = f"hello {self.step}"
            await self.say(text)
            arrived, reply = await self.mail.next(self.key)
            if self.text_of(reply) != text:
                raise AssertionError(f"the echo of {text!r} was {self.text_of(reply)!r}")
        else:
            step = REPORT[self.step % len(REPORT)]
            await self.answer(step)
            arrived, reply = await self.mail.next(self.key)
            if step == REPORT[-1]:
                if "OSB-" not in json.dumps(reply):
                    raise AssertionError("the report was not sent")
                self.reports += 1
        self.last = reply
        self.step += 1
        return arrived - began


async def compare(targets: dict[str, Target], plan: Plan) -> dict[str, Any]:
    """Each level against each target. Others may be using the machine, so the measured time is split in two
    and run in the order bare, ours, ours, bare: a change in the machine's load touches both sides alike."""
    levels: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
    checks: dict[str, dict[str, Any]] = {}
    growth: dict[str, Any] | None = None
    started = []
    try:
        started += targets.values()
        await asyncio.gather(*(target.start() for target in targets.values()))  # both servers start at once
        for n, think in [(n, 0.0) for n in plan.levels] + [(n, plan.think) for n in plan.paced]:
            people = {name: target.conversations(n) for name, target in targets.items()}
            samples: dict[str, list[Sample]] = {name: [] for name in targets}
            failed: set[Conversation] = set()
            order = [*targets, *reversed(targets)] if plan.turns is None else list(targets)
            for name in order:
                first = not samples[name]
                warmup = plan.warmup if first else min(plan.warmup, 0.5)  # the same people carry on
                seconds = plan.seconds * (len(targets) / len(order))
                turns = plan.turns if first else None
                samples[name].append(await drive(people[name], warmup, seconds, turns, targets[name].server, failed,
                                                 think))
            await asyncio.sleep(0.2)  # anything still coming now would be a reply no turn asked for
            for name, target in targets.items():
                result = level_stats(n, think, samples[name])
                result["unexpected_replies"] = target.unexpected(people[name])
                levels[name].append(result)
        if plan.growth_reports and "ours" in targets:
            growth = await grow(targets["ours"], plan)
    finally:
        for name, target in targets.items():
            if target in started:
                checks[name] = await target.finish()
    return {"plan": plan.__dict__, "load_average_1min": os.getloadavg()[0],
            "loadgen_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "targets": {name: {"levels": levels[name], "checks": checks[name]} for name in targets},
            **({"growth": growth} if growth else {})}


async def grow(target: Target, plan: Plan) -> dict[str, Any]:
    """Ours alone, flat out at `plan.growth_conversations`, in windows of `plan.growth_window` seconds until
    `plan.growth_reports` reports have been sent in all: the server's CPU per turn in each window. A cost that
    grows with the cases (a scan of every earlier one, say) shows as the last windows costing more than the first."""
    people = target.conversations(plan.growth_conversations)
    failed: set[Conversation] = set()
    windows: list[dict[str, Any]] = []
    errors: list[str] = []

    def sent() -> int:
        return sum(getattr(p, "reports", 0) for p in people)

    while sent() < plan.growth_reports and not failed:
        sample = await drive(people, 0.0, plan.growth_window, None, target.server, failed)
        errors += sample.errors
        windows.append({"reports_sent": sent(), "turns": sample.turns,
                        "server_cpu_ms_per_turn": round(1000 * sample.server_cpu / max(1, sample.turns), 3)})
    ends = [w["server_cpu_ms_per_turn"] for w in windows[:2]], [w["server_cpu_ms_per_turn"] for w in windows[-2:]]
    start, end = (round(sum(e) / len(e), 3) if e else None for e in ends)
    return {"conversations": plan.growth_conversations, "reports_sent": sent(), "windows": windows,
            "start_cpu_ms_per_turn": start, "end_cpu_ms_per_turn": end,
            "end_over_start": round(end / start, 2) if start and end else None,
            "flat": bool(start and end and end / start <= GROWTH_FLAT), "errors": len(errors),
            "first_errors": errors[:3]}


def problems(result: dict[str, Any]) -> list[str]:
    """What went wrong (empty when every reply arrived, nothing unasked came, and every check passed)."""
    found = []
    for name, data in result["targets"].items():
        for level in data["levels"]:
            if level["errors"] or level["unexpected_replies"] or not level["turns"]:
                at = f"{level['conversations']}" + (f" pausing ~{level['think_s']:g} s" if level["think_s"] else "")
                first = f" (the first: {level['first_errors'][0][:200]})" if level["first_errors"] else ""
                found.append(f"{name} at {at}: {level['errors']} errors{first}, {level['unexpected_replies']} "
                             f"unexpected replies, {level['turns']} turns")
        found += [f"{name}: {p}" for p in data["checks"].get("problems", [])]
    growth = result.get("growth")
    if growth and (growth["errors"] or not growth["windows"]):
        first = f" (the first: {growth['first_errors'][0][:200]})" if growth["first_errors"] else ""
        found.append(f"ours, growing to {growth['reports_sent']} reports: {growth['errors']} errors{first}")
    return found


def summarise(result: dict[str, Any], title: str, bare_name: str, description: str) -> dict[str, Any]:
    """A channel's comparison, the targets judged, what went wrong, and its section of the summary."""
    result["comparison"] = comparison(result["targets"]["bare"], result["targets"]["ours"])
    if "pooled" in result["targets"]:  # the second baseline, beside the first
        pooled = comparison(result["targets"]["pooled"], result["targets"]["ours"])
        for row, against in zip(result["comparison"], pooled, strict=True):
            row.update(pooled_turns_per_s=against["bare_turns_per_s"], pooled_ratio=against["ratio"],
                       pooled_cpu_ratio=against["cpu_ratio"],
                       pooled_server_cpu_ms_per_turn=against["server_cpu_ms_per_turn"][0])
    result["verdict"] = verdict(result["comparison"])
    result["problems"] = problems(result)
    plan, checks = result["plan"], result["targets"]["ours"]["checks"]
    notes = [f"{description} Each server in its own process; the load generator and fake API share another. "
             f"{plan['seconds']:g} s measured per level after {plan['warmup']:g} s of warm-up, bare and ours back to "
             "back.", "",
             f"Checked: {checks['reports_sent']} reports sent, {checks['cases_in_store']} cases in the store, "
             f"case cards delivered {checks['case_cards']}." + cards_md(checks)]
    result["summary_md"] = table_md(title, bare_name, result, notes)
    return result


def cards_md(checks: dict[str, Any]) -> str:
    if "cards_after_load_s" not in checks:
        return ""
    met = "met" if checks["cards_within_target"] else "**missed**"
    return (f" When the load stopped, {checks['cards_behind_at_stop']} case cards were still to go; the last "
            f"arrived {checks['cards_after_load_s']:g} s later (target ≤ {CARDS_WITHIN_SECONDS:g} s: {met}).")


def comparison(bare: dict[str, Any], ours: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for a, b in zip(bare["levels"], ours["levels"], strict=True):
        cpu = [a["server_cpu_ms_per_turn"], b["server_cpu_ms_per_turn"]]
        rows.append({"conversations": a["conversations"], "think_s": a["think_s"],
                     "bare_turns_per_s": a["turns_per_s"], "bare_p50_ms": a["p50_ms"], "bare_p99_ms": a["p99_ms"],
                     "ours_turns_per_s": b["turns_per_s"], "ours_p50_ms": b["p50_ms"], "ours_p99_ms": b["p99_ms"],
                     "ratio": round(b["turns_per_s"] / a["turns_per_s"], 2) if a["turns_per_s"] else None,
                     # what the ratio would be with the server alone on a core: bare's CPU per turn over ours
                     "cpu_ratio": round(cpu[0] / cpu[1], 2) if cpu[1] else None,
                     "server_cpu_ms_per_turn": cpu,
                     "server_cpu_percent": [a["server_cpu_percent"], b["server_cpu_percent"]],
                     "loadgen_cpu_percent": [a["loadgen_cpu_percent"], b["loadgen_cpu_percent"]]})
    return rows


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets: our throughput at least 0.6 of the bare echo's, judged flat out at the most
    conversations, by turns per second and by CPU time per turn alike (when others share the machine, neither
    server may get a whole core, and turns per second then say little); and p99 under 100 ms at 100 conversations,
    judged where people pause between turns, if that was measured (flat out, latency is queueing: n / throughput,
    for the bare echo too)."""
    flat_out = [r for r in rows if not r["think_s"]]
    paced = [r for r in rows if r["think_s"]]
    top, latency = flat_out[-1], (paced or flat_out)[-1]
    return {"ratio_at": top["conversations"], "ratio": top["ratio"], "cpu_ratio": top["cpu_ratio"],
            "pooled_cpu_ratio": top.get("pooled_cpu_ratio"),
            "ratio_met": None not in (top["ratio"], top["cpu_ratio"]) and min(top["ratio"], top["cpu_ratio"]) >= 0.6,
            "p99_at": latency["conversations"], "p99_think_s": latency["think_s"], "p99_ms": latency["ours_p99_ms"],
            "p99_met": latency["ours_p99_ms"] < 100, "p99_flat_out_ms": top["ours_p99_ms"]}


def table_md(title: str, bare_name: str, result: dict[str, Any], notes: list[str]) -> str:
    rows, judged = result["comparison"], result["verdict"]
    lines = [f"### {title}", "",
             f"| concurrent conversations | {bare_name}: turns/s | p50 ms | p99 ms | our full turn: turns/s | p50 ms "
             "| p99 ms | ours / bare | ours / bare by CPU per turn |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        who = (
            f"{r['conversations']}, pausing ~{r['think_s']:g} s" if r["think_s"] else f"{r['conversations']}, flat out"
        )
        ratio = "(same load)" if r["think_s"] else r["ratio"]
        lines.append(f"| {who} | {r['bare_turns_per_s']:g} | {r['bare_p50_ms']:g} | {r['bare_p99_ms']:g} "
                     f"| {r['ours_turns_per_s']:g} | {r['ours_p50_ms']:g} | {r['ours_p99_ms']:g} | {ratio} "
                     f"| {r['cpu_ratio']} |")
    cpu = "; ".join(f"{r['conversations']}{'p' if r['think_s'] else ''}: {r['server_cpu_ms_per_turn'][0]:g} / "
                    + (f"{r['pooled_server_cpu_ms_per_turn']:g} / " if "pooled_cpu_ratio" in r else "")
                    + f"{r['server_cpu_ms_per_turn'][1]:g}" for r in rows)
    pooled_cpu = ", ".join(f"{r['conversations']}{' pausing' if r['think_s'] else ''}: {r['pooled_cpu_ratio']}"
                           for r in rows if "pooled_cpu_ratio" in r)
    busy = [r["conversations"] for r in rows if max(r["loadgen_cpu_percent"]) >= 90]
    met = lambda ok: "met" if ok else "**missed**"  # noqa: E731
    found = result["problems"]
    paced = f", pausing ~{judged['p99_think_s']:g} s between turns" if judged["p99_think_s"] else ""
    lines += [
        "",
        *notes,
        "",
        "*Flat out*: each conversation sends its next turn the moment its reply arrives (the most the server "
        "can do; latency there is mostly queueing). *Pausing*: before each turn, each person waits between half "
        "and one and a half times the pause shown. *By CPU per turn*: the bare server's CPU time per turn "
        "over ours, near what the ratio would be with each server alone on a core. Server CPU ms per turn, "
        f"bare / {'pooled / ' if pooled_cpu else ''}ours: {cpu}."
        + (f" Ours / the pooled echo by CPU per turn (the second baseline, reported beside the target's): "
           f"{pooled_cpu}." if pooled_cpu else "")
        + (
            f" At {busy} conversations the load generator's process was at least 90% busy: there the bare "
            "echo's number is partly the load generator's limit."
            if busy
            else ""
        ),
        "",
        f"Targets: ours / bare at {judged['ratio_at']} conversations {judged['ratio']}, by CPU per turn "
        f"{judged['cpu_ratio']} (target ≥ 0.6 by both: {met(judged['ratio_met'])}); our p99 at {judged['p99_at']} "
        f"conversations{paced} {judged['p99_ms']:g} ms (target < 100 ms: {met(judged['p99_met'])}; flat out "
        f"{judged['p99_flat_out_ms']:g} ms).",
        "",
        *growth_md(result.get("growth")),
        "Every reply checked: " + ("all arrived, none unasked." if not found else "**PROBLEMS**: " + "; ".join(found)),
        f"Load average when the run ended: {result['load_average_1min']:.2f} (2 cores; others may have been "
        "using the machine).",
    ]
    return "\n".join(lines) + "\n"


def growth_md(growth: dict[str, Any] | None) -> list[str]:
    if not growth:
        return []
    flat = "flat within noise" if growth["flat"] else f"**grew** (more than {GROWTH_FLAT:g}x)"
    return [f"Growth: ours alone at {growth['conversations']} conversations until {growth['reports_sent']} reports "
            f"in all, in {len(growth['windows'])} windows: server CPU per turn {growth['start_cpu_ms_per_turn']} ms "
            f"at the start (first two windows), {growth['end_cpu_ms_per_turn']} ms at the end (last two): "
            f"{growth['end_over_start']}x, {flat}.", ""]
