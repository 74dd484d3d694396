"""Failover times of the chaos harness (scripts/chaos.py), from the logs.

After a worker or the dispatcher is SIGKILLed, its consumer groups' partitions
stay unserved until the broker notices (the session timeout) and the group
rebalances. This reads every process life's JSON log for the consumer's
"partitions assigned" / "partitions revoked" lines and answers, per fault and
per consumer group: how long after the kill every partition the killed life
owned was owned again by a life that was still running.

Rebalancing is eager (librdkafka's range and round-robin assignors): a revoke
takes every partition of that consumer, an assignment gives its whole new
set.
"""

import datetime
import json
import re
from pathlib import Path

LIFE = re.compile(r"^(?P<proc>(worker-\d+|dispatcher))\.(?P<n>\d+)\.log$")


def _epoch(ts: str) -> float:
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def _partitions(text) -> set:
    """`[4, 5]` (conversations) or `["p.fte.x.outbound[0]", …]` as a set."""
    if not isinstance(text, str):
        return set()
    try:
        return set(json.loads(text))
    except ValueError:
        return {p.strip(' "') for p in text.strip("[]").split(",") if p.strip()}


def read_lives(logdir: Path) -> list[dict]:
    """Every process life: its name, first and last log time, and its
    ownership changes per consumer group as (time, set of partitions)."""
    lives = []
    for path in sorted(logdir.glob("*.log")):
        m = LIFE.match(path.name)
        if not m:
            continue
        life = {"name": path.stem, "proc": m["proc"], "first": None, "last": None, "owned": {}}
        with open(path, errors="replace") as f:
            for line in f:
                if not line.startswith("{"):
                    continue
                try:
                    rec = json.loads(line)
                    t = _epoch(rec["timestamp"])
                except (ValueError, KeyError):
                    continue
                life["first"] = t if life["first"] is None else life["first"]
                life["last"] = t
                fields = rec.get("fields", {})
                msg = fields.get("message")
                if msg not in ("partitions assigned", "partitions revoked"):
                    continue
                group = fields.get("consumer") or "conversations"
                owned = _partitions(fields.get("partitions")) if msg == "partitions assigned" else set()
                life["owned"].setdefault(group, []).append((t, owned))
        if life["first"] is not None:
            lives.append(life)
    return lives


def _owned_at(changes: list, t: float) -> set:
    owned = set()
    for when, parts in changes:
        if when > t:
            break
        owned = parts
    return owned


def failover(logdir: Path, t0: float, faults: list[dict], horizon: float = 120.0) -> list[dict]:
    """Per worker or dispatcher kill: for each consumer group the killed life
    was in, seconds until all of its partitions were owned again by a
    running life (`None`: not within `horizon`)."""
    lives = read_lives(logdir)
    kills = [f for f in faults if f.get("kind") in ("worker_kill", "dispatcher_kill") and f.get("at") is not None]
    ends = {}  # life name -> kill time (epoch)
    for f in kills:
        at = t0 + f["at"]
        victim = _life_at(lives, f["target"], at)
        if victim:
            ends[victim["name"]] = at
    out = []
    for f in kills:
        at = t0 + f["at"]
        victim = _life_at(lives, f["target"], at)
        row = {"kind": f["kind"], "target": f["target"], "at": f["at"], "groups": {}}
        if victim is None:
            row["error"] = "no log of the killed process"
            out.append(row)
            continue
        for group, changes in victim["owned"].items():
            lost = _owned_at(changes, at)
            if not lost:
                continue
            row["groups"][group] = _regained(lives, ends, victim, group, lost, at, horizon)
        served = list(row["groups"].values())
        if not served:
            # Killed mid-rebalance, owning nothing: nothing to take over.
            row["owned_nothing"] = True
            row["failover_s"] = None
        else:
            row["failover_s"] = None if any(v is None for v in served) else max(served)
        out.append(row)
    return out


def _life_at(lives: list[dict], proc: str, at: float):
    """The life of `proc` that was running at `at` (the latest to start)."""
    candidates = [lf for lf in lives if lf["proc"] == proc and lf["first"] <= at]
    return max(candidates, key=lambda lf: lf["first"]) if candidates else None


def _regained(lives, ends, victim, group, lost: set, at: float, horizon: float):
    """Seconds after `at` until every partition in `lost` is owned by a life
    other than `victim` that is running then."""
    moments = sorted({t for lf in lives for t, _ in lf["owned"].get(group, []) if at <= t <= at + horizon})
    for t in moments:
        owned = set()
        for lf in lives:
            if lf["name"] == victim["name"] or lf["first"] > t or ends.get(lf["name"], float("inf")) <= t:
                continue
            owned |= _owned_at(lf["owned"].get(group, []), t)
        if lost <= owned:
            return round(t - at, 2)
    return None


def summary(rows: list[dict]) -> dict:
    """p50 and max of the failover times per kind of kill."""
    by_kind, idle = {}, {}
    for r in rows:
        if r.get("owned_nothing"):
            idle[r["kind"]] = idle.get(r["kind"], 0) + 1
            continue
        by_kind.setdefault(r["kind"], []).append(r.get("failover_s"))
    out = {}
    for kind, values in by_kind.items():
        known = sorted(v for v in values if v is not None)
        out[kind] = {
            "kills": len(values),
            "killed_owning_nothing": idle.get(kind, 0),
            "never_served_again": sum(v is None for v in values),
            "p50_s": known[(len(known) - 1) // 2] if known else None,
            "max_s": known[-1] if known else None,
        }
    return out
