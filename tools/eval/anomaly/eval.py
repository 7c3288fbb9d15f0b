#!/usr/bin/env python3
"""tools/eval/anomaly — scores Redline's anomaly candidates against faults injected in the lab.

    tools/eval/anomaly/run [--trials N] [--seed S] [--out DIR] [--redline BIN] [--results FILE] ...
    tools/eval/anomaly/run --score-only DIR [--results FILE]     re-score trials already run
    tools/eval/anomaly/run --plan [--trials N] [--seed S]         print the trials, run nothing

Each trial is one `tools/lab/lab run` on tools/lab/topologies/eval.json (services, hosts and the
inter-datacenter link are drawn from it): --duration seconds of entry load, and in a fault trial
one fault over [--onset, --duration) (kind and target drawn with the seed, magnitude from mild to
severe on a log scale). Quiet trials inject nothing; load-change trials double or halve the
entry rate over the same window (not a fault: every candidate there is a false one). After the
run: `redline run` of a copy of pipelines/hourly.yaml with --bucket-seconds buckets (the shipped
one-minute buckets would leave too few baseline buckets in a short trial), then `redline run
pipelines/anomaly.yaml` on the trial's own table root, then its anomaly_candidates are read and
scored against OUT/ground-truth/faults.json. Every trial keeps its folder under --out
(segments, metadata, ground truth, tables, score.json).

Scoring (per fault trial; the candidates are the partition's, ranked by the anomaly stage):
- a candidate names the fault when: a service fault (errors, delay, squeeze, stop) — the
  candidate is that service (entity_kind service) or an edge into it (entity_kind edge, its
  `service` column = the callee); a host fault (drop) — entity_kind host, that host; a link fault
  (linkdrop, linkrate) — entity_kind dc_link.
- top-1 / top-3: the best-ranked naming candidate has rank 1 / rank <= 3.
- detection delay: end of the naming candidate's first alarmed bucket (`onset` + bucket width)
  minus the fault's recorded onset, in seconds and buckets.
- false candidates: every candidate of a quiet or load-change trial, extrapolated to candidates
  per service per 24 h of such traffic (candidates / services in the topology / seconds of load
  x 86400); and, apart, fault-trial candidates whose episode began before the fault did.

Trial length: the default 100 s of load (60 s fault-free baseline, 12 buckets of 5 s, then a
40 s fault) plus about 35 s of lab set-up and tear-down and the two pipelines: ~2.3 minutes a
trial, 40 trials in ~90 minutes on the 2-core lab machine. Trials never straddle a UTC hour (the
tool waits for the next hour when one would), so each trial is one partition.

Needs root (the lab) and the repository's .venv (pyarrow). Standard library otherwise.
"""
import argparse
import datetime
import glob
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LAB = os.path.join(ROOT, "tools", "lab", "lab")
TOPOLOGY = os.path.join(ROOT, "tools", "lab", "topologies", "eval.json")

# Fault kinds: targets drawn from the topology, magnitudes mild..severe (log scale).
KINDS = {
    "errors": {"targets": "http", "mild": 0.05, "severe": 0.5},
    "delay": {"targets": "http", "mild": 20, "severe": 300},
    "squeeze": {"targets": "http", "mild": 30, "severe": 200},
    "stop": {"targets": "service"},
    "drop": {"targets": "host", "mild": 20, "severe": 150},
    "linkdrop": {"targets": "link", "mild": 20, "severe": 150},
    "linkrate": {"targets": "link", "mild": 256, "severe": 48},
}
INTEGER_KINDS = {"delay", "squeeze", "drop", "linkdrop", "linkrate"}


class EvalError(Exception):
    pass


def log(msg):
    print("eval: " + msg, file=sys.stderr, flush=True)


def magnitude(kind, severity):
    k = KINDS[kind]
    if "mild" not in k:
        return None
    v = k["mild"] * (k["severe"] / k["mild"]) ** severity
    return int(round(v)) if kind in INTEGER_KINDS else round(v, 3)


def plan(topology, trials, seed, onset, duration):
    """The trials: about 1 in 7 quiet, 1 in 7 load changes, the rest faults with the kinds
    taking turns (shuffled with the seed) and a seeded target and severity each."""
    rng = random.Random(seed)
    services = [s["name"] for s in topology["services"]]
    targets = {"http": [s["name"] for s in topology["services"] if s["kind"] == "http"],
               "service": services, "host": [h["name"] for h in topology["hosts"]], "link": ["wan"]}
    kinds = list(KINDS)
    rng.shuffle(kinds)
    out, turn = [], 0
    for i in range(trials):
        slot = i % 7
        t = {"index": i + 1, "onset_s": onset, "end_s": duration}
        if slot == 3:
            t.update(type="quiet", spec=None)
        elif slot == 6:
            change = rng.choice(["rate*2", "rate/2"])
            t.update(type="load", spec="%s@%ds-%ds" % (change, onset, duration))
        else:
            kind = kinds[turn % len(kinds)]
            turn += 1
            target = rng.choice(targets[KINDS[kind]["targets"]])
            severity = round(rng.random(), 3)
            value = magnitude(kind, severity)
            body = "%s:%s" % (kind, target) + ("" if value is None else ":%s" % value)
            t.update(type="fault", kind=kind, target=target, severity=severity,
                     spec="%s@%ds-%ds" % (body, onset, duration))
        out.append(t)
    return out


def run(cmd, log_file, check=True):
    with open(log_file, "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if check and r.returncode != 0:
        raise EvalError("%s exited %d (see %s)" % (" ".join(cmd[:3]), r.returncode, log_file))
    return r.returncode


def wait_inside_hour(seconds):
    """Sleeps into the next UTC hour when a trial of `seconds` would straddle this one's end."""
    now = time.time()
    left = 3600 - now % 3600
    if left < seconds:
        log("waiting %.0f s for the next UTC hour (a trial is one partition)" % (left + 5))
        time.sleep(left + 5)


def hourly_copy(out, bucket_seconds):
    src = open(os.path.join(ROOT, "pipelines", "hourly.yaml")).read()
    text, n = re.subn(r"(?m)^(\s*bucket_seconds:\s*)\d+", r"\g<1>%d" % bucket_seconds, src)
    if n != 1:
        raise EvalError("pipelines/hourly.yaml: expected one aggregate bucket_seconds, found %d" % n)
    path = os.path.join(out, "hourly-%ds.yaml" % bucket_seconds)
    open(path, "w").write(text)
    return path


def partitions(segments):
    found = set()
    for p in glob.glob(os.path.join(segments, "host=*", "date=*", "hour=*")):
        m = re.search(r"(date=\d{4}-\d{2}-\d{2})/(hour=\d{2})$", p)
        if m:
            found.add("%s/%s" % m.groups())
    return sorted(found)


def read_candidates(tables, partition):
    import pyarrow.parquet as pq
    files = sorted(glob.glob(os.path.join(tables, "anomaly_candidates", partition, "*.parquet")))
    if not files:
        raise EvalError("no anomaly_candidates under %s for %s" % (tables, partition))
    rows = []
    for f in files:
        t = pq.read_table(f)
        for r in t.to_pylist():
            for k, v in list(r.items()):
                if isinstance(v, datetime.datetime):  # timestamps -> ns since the epoch
                    r[k] = int(v.replace(tzinfo=datetime.timezone.utc).timestamp()) * 10**9 + v.microsecond * 1000
            rows.append(r)
    return sorted(rows, key=lambda r: (r["rank"], r["entity"]))


def run_trial(t, args, hourly, trial_dir):
    os.makedirs(trial_dir, exist_ok=True)
    log_file = os.path.join(trial_dir, "eval.log")
    lab = [LAB, "run", "--id", args.id, "--topology", args.topology, "--duration", str(args.duration),
           "--out", trial_dir, "--redline", args.collector or args.redline]
    if t["type"] == "fault":
        lab += ["--fault", t["spec"]]
    elif t["type"] == "load":
        lab += ["--load", t["spec"]]
    run([LAB, "down", "--id", args.id], log_file, check=False)
    run(lab, log_file)
    tables = os.path.join(trial_dir, "tables")
    parts = partitions(os.path.join(trial_dir, "segments"))
    if not parts:
        raise EvalError("trial %d wrote no segments" % t["index"])
    for p in parts:
        run([args.redline, "run", hourly, "--partition", p, "--segments", os.path.join(trial_dir, "segments"),
             "--metadata", os.path.join(trial_dir, "metadata"), "--out", tables, "--quiet"], log_file)
    for p in parts:
        run([args.redline, "run", args.anomaly_pipeline, "--partition", p, "--out", tables], log_file)
    cands = []
    for p in parts:
        cands += read_candidates(tables, p)
    json.dump({"trial": t, "partitions": parts, "candidates": cands},
              open(os.path.join(trial_dir, "candidates.json"), "w"), indent=1, default=str)


def names_fault(c, event):
    kind = event["target_kind"]
    if kind == "service":
        return (c["entity_kind"] == "service" and c["entity"] == event["target"]) or \
               (c["entity_kind"] == "edge" and c["service"] == event["target"])
    if kind == "host":
        return c["entity_kind"] == "host" and c["entity"] == event["target"]
    if kind == "link":
        return c["entity_kind"] == "dc_link"
    return False


def score_trial(trial_dir):
    """score.json of one trial from candidates.json and ground-truth/faults.json."""
    doc = json.load(open(os.path.join(trial_dir, "candidates.json")))
    truth = json.load(open(os.path.join(trial_dir, "ground-truth", "faults.json")))
    t, cands = doc["trial"], doc["candidates"]
    faults = [e for e in truth["events"] if e["fault"]]
    s = {"index": t["index"], "type": t["type"], "spec": t.get("spec"), "candidates": len(cands),
         "load_seconds": (truth["load_end_unix_ns"] - truth["load_start_unix_ns"]) / 1e9,
         "top": ["%d %s:%s %s" % (c["rank"], c["entity_kind"], c["entity"], c["metric"]) for c in cands[:3]]}
    if t["type"] == "fault":
        if len(faults) != 1:
            raise EvalError("%s: expected one fault in the ground truth, found %d" % (trial_dir, len(faults)))
        e = faults[0]
        s.update(kind=e["kind"], target=e["target"], magnitude=e["magnitude"], severity=t.get("severity"))
        hit = next((c for c in cands if names_fault(c, e)), None)
        s["rank"] = hit["rank"] if hit else None
        s["top1"] = bool(hit and hit["rank"] == 1)
        s["top3"] = bool(hit and hit["rank"] <= 3)
        if hit:
            width = hit["bucket_seconds"]
            delay = (hit["onset"] + width * 10**9 - e["onset_unix_ns"]) / 1e9
            s.update(delay_s=delay, delay_buckets=delay / width, bucket_seconds=width)
        s["before_onset"] = sum(1 for c in cands if c["onset"] < e["onset_unix_ns"] - 10**9 * c["bucket_seconds"])
    json.dump(s, open(os.path.join(trial_dir, "score.json"), "w"), indent=1)
    return s


def summarize(scores, services, args, started, finished):
    lines = []
    faults = [s for s in scores if s["type"] == "fault"]
    quiet = [s for s in scores if s["type"] in ("quiet", "load")]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines += ["# Anomaly evaluation (tools/eval/anomaly)", "",
              "Run %s: %d trials (%d fault, %d quiet, %d load-change), seed %s, %s s of load per trial "
              "(fault from %s s), %s s buckets, topology %s, %.0f minutes in all." % (
                  now, len(scores), len(faults), sum(s["type"] == "quiet" for s in quiet),
                  sum(s["type"] == "load" for s in quiet), args.seed, args.duration, args.onset, args.bucket_seconds,
                  os.path.relpath(args.topology, ROOT), (finished - started) / 60),
              "", "Command: `%s`" % " ".join(["tools/eval/anomaly/run"] + sys.argv[1:]), "",
              "Goals (issue 12): top-1 >= 90 %, top-3 >= 98 % over >= 40 trials with >= 6 fault kinds; "
              "<= 1 false candidate per service per 24 h of quiet or load-change traffic; detection within 2 buckets.",
              "", "| fault kind | trials | top-1 | top-3 | detection delay, median (max) | buckets, median (max) |",
              "|---|---|---|---|---|---|"]

    def pct(n, d):
        return "%d/%d (%.0f %%)" % (n, d, 100.0 * n / d) if d else "-"

    def delays(ss):
        d = sorted(s["delay_s"] for s in ss if "delay_s" in s)
        b = sorted(s["delay_buckets"] for s in ss if "delay_buckets" in s)
        if not d:
            return "-", "-"
        return "%.0f s (%.0f s)" % (d[len(d) // 2], d[-1]), "%.1f (%.1f)" % (b[len(b) // 2], b[-1])

    for kind in sorted({s["kind"] for s in faults}):
        ss = [s for s in faults if s["kind"] == kind]
        d, b = delays(ss)
        lines.append("| %s | %d | %s | %s | %s | %s |" % (kind, len(ss), pct(sum(s["top1"] for s in ss), len(ss)),
                                                          pct(sum(s["top3"] for s in ss), len(ss)), d, b))
    d, b = delays(faults)
    lines.append("| **all** | %d | %s | %s | %s | %s |" % (len(faults), pct(sum(s["top1"] for s in faults), len(faults)),
                                                           pct(sum(s["top3"] for s in faults), len(faults)), d, b))
    secs = sum(s["load_seconds"] for s in quiet)
    n = sum(s["candidates"] for s in quiet)
    lines += ["", "False candidates: %d in %d quiet and load-change trials (%.0f s of load, %d services): "
              "%s per service per 24 h (extrapolated)." % (
                  n, len(quiet), secs, services, "%.1f" % (n / services / secs * 86400) if secs else "-"),
              "Fault trials: %d candidates whose episode began more than a bucket before the fault's onset." % sum(
                  s.get("before_onset", 0) for s in faults),
              "", "## Trials", "", "| # | type | spec | rank of the fault | delay | candidates | top 3 |",
              "|---|---|---|---|---|---|---|"]
    for s in scores:
        lines.append("| %d | %s | %s | %s | %s | %d | %s |" % (
            s["index"], s["type"], s["spec"] or "-", s.get("rank") if s.get("rank") is not None else ("miss" if s["type"] == "fault" else "-"),
            "%.0f s" % s["delay_s"] if "delay_s" in s else "-", s["candidates"], "; ".join(s["top"]) or "-"))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--duration", type=int, default=100, help="seconds of load per trial")
    ap.add_argument("--onset", type=int, default=60, help="fault / load change onset, seconds into the load")
    ap.add_argument("--bucket-seconds", type=int, default=5, help="the hourly copy's bucket width (divides 3600)")
    ap.add_argument("--out", help="trial folders (default /tmp/redline-eval-anomaly-<UTC time>)")
    ap.add_argument("--redline", default=os.path.join(ROOT, ".build", "release", "redline"))
    ap.add_argument("--collector", help="the redline binary the lab's collectors run (default: --redline)")
    ap.add_argument("--anomaly-pipeline", default=os.path.join(ROOT, "pipelines", "anomaly.yaml"))
    ap.add_argument("--topology", default=TOPOLOGY)
    ap.add_argument("--id", default="ev", help="lab id (1-8 lower-case letters or digits)")
    ap.add_argument("--results", default=os.path.join(ROOT, "tools", "eval", "anomaly", "RESULTS.md"))
    ap.add_argument("--score-only", metavar="DIR", help="score the trials under DIR, run nothing")
    ap.add_argument("--plan", action="store_true", help="print the trials and exit")
    a = ap.parse_args()
    if not (0 < a.onset < a.duration <= 3600) or 3600 % a.bucket_seconds or a.trials < 1:
        sys.exit("eval: need 0 < --onset < --duration, --bucket-seconds dividing 3600, --trials >= 1")
    topology = json.load(open(a.topology))
    started = time.time()
    if a.score_only:
        a.out = a.score_only
        trial_dirs = sorted(glob.glob(os.path.join(a.out, "trial-*")))
    else:
        trials = plan(topology, a.trials, a.seed, a.onset, a.duration)
        if a.plan:
            for t in trials:
                print("%3d %-6s %s" % (t["index"], t["type"], t["spec"] or "-"))
            return
        if os.geteuid() != 0:
            sys.exit("eval: the lab needs root")
        for f, what in ((a.redline, "--redline"), (a.anomaly_pipeline, "--anomaly-pipeline")):
            if not os.path.exists(f):
                sys.exit("eval: %s %s does not exist" % (what, f))
        a.out = a.out or "/tmp/redline-eval-anomaly-" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        os.makedirs(a.out, exist_ok=True)
        hourly = hourly_copy(a.out, a.bucket_seconds)
        trial_dirs = []
        for t in trials:
            d = os.path.join(a.out, "trial-%03d" % t["index"])
            wait_inside_hour(a.duration + 90)
            log("trial %d/%d: %s %s" % (t["index"], len(trials), t["type"], t["spec"] or ""))
            try:
                run_trial(t, a, hourly, d)
                trial_dirs.append(d)
                s = score_trial(d)
                log("  -> %d candidates%s" % (s["candidates"], "" if t["type"] != "fault" else
                                             ", fault at rank %s" % s["rank"]))
            except EvalError as e:
                log("  trial %d failed: %s" % (t["index"], e))
    scores = []
    for d in trial_dirs:
        try:
            scores.append(score_trial(d))
        except (EvalError, OSError, KeyError) as e:
            log("%s: not scored: %s" % (d, e))
    if not scores:
        sys.exit("eval: no trial could be scored")
    text = summarize(scores, len(topology["services"]), a, started, time.time())
    sys.stdout.write(text)
    tmp = a.results + ".tmp"
    open(tmp, "w").write(text)
    os.replace(tmp, a.results)
    log("results: %s; trials under %s" % (a.results, a.out))


if __name__ == "__main__":
    main()
