"""How long each ansible-playbook run of a molecule log took, and where.

    python3 tools/site_timing.py .testbed/logs/molecule-default.log
    python3 tools/site_timing.py --steps converge,idempotence --top 15 LOG

Reads the output of ansible-playbook with the ansible.posix.profile_tasks
callback (every scenario has it on): each task header carries the previous
task's duration and the run's elapsed time, and each run ends with a
"TASKS RECAP" line holding its total. Molecule's "[scenario > step]
Executing" lines name the step a run belongs to.

For each step: wall time, tasks, module runs (results: ok, changed, skipping,
failed, one per loop item), seconds per module run, and the time per role
(play-level tasks count as "(playbook)"). This is how the e2e scenario's
first converge and no-op re-run of site.yml are measured (CONTRIBUTING.md: "How long site.yml takes").
"""

import argparse
import collections
import re
import sys

STEP = re.compile(r"\[(?P<scenario>[\w-]+) > (?P<step>[\w-]+)\] Executing")
HEADER = re.compile(r"\((?P<prev>\d+):(?P<m>\d\d):(?P<s>\d\d(?:\.\d+)?)\)\s+(?P<eh>\d+):(?P<em>\d\d):(?P<es>\d\d(?:\.\d+)?)\s+\*+$")
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(?:(?P<role>[\w.]+) : )?(?P<name>.*?)\] \*+$")
RESULT = re.compile(r"^(?:ok|changed|skipping|failed|fatal): \[")
RECAP = re.compile(r"^TASKS RECAP \*+$")


def seconds(h, m, s):
    return int(h) * 3600 + int(m) * 60 + float(s)


class Run:
    def __init__(self, step):
        self.step = step
        self.total = 0.0
        self.tasks = 0
        self.results = 0
        self.roles = collections.Counter()

    def summary(self, top):
        per = self.total / self.results if self.results else 0.0
        lines = ["%-12s %7.1f s  %4d tasks  %5d module runs  %.2f s/run" % (self.step, self.total, self.tasks, self.results, per)]
        for role, took in self.roles.most_common(top):
            lines.append("    %-40s %7.1f s" % (role, took))
        return "\n".join(lines)


def parse(lines):
    """Each task header holds the duration of the task before it; the
    recap's header holds the last task's and the run's total."""
    runs, step, run, after_recap = [], "?", None, False
    role, previous_role = None, None
    for line in lines:
        line = line.rstrip("\n")
        m = STEP.search(line)
        if m:
            step = m.group("step")
            continue
        if RECAP.match(line):
            after_recap = True
            continue
        h = HEADER.search(line)
        if h:
            prev = seconds(h.group("prev"), h.group("m"), h.group("s"))
            elapsed = seconds(h.group("eh"), h.group("em"), h.group("es"))
            if after_recap:
                if run is not None:
                    if role is not None:
                        run.roles[role] += prev
                    run.total = elapsed
                    runs.append(run)
                run, role, previous_role, after_recap = None, None, None, False
            elif run is not None and previous_role is not None:
                run.roles[previous_role] += prev
            continue
        t = TASK.match(line)
        if t:
            if run is None:
                run = Run(step)
            run.tasks += 1
            previous_role, role = role, t.group("role") or "(playbook)"
            continue
        if run is not None and RESULT.match(line):
            run.results += 1
    return runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--steps", default="", help="comma-separated molecule steps to show (default: all)")
    parser.add_argument("--top", type=int, default=10, help="roles to list per run")
    args = parser.parse_args(argv)
    with open(args.log, encoding="utf-8", errors="replace") as handle:
        runs = parse(handle)
    wanted = [s for s in args.steps.split(",") if s]
    shown = [r for r in runs if not wanted or r.step in wanted]
    if not shown:
        print("no ansible-playbook run with profile_tasks found in %s" % args.log, file=sys.stderr)
        return 1
    for run in shown:
        print(run.summary(args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
