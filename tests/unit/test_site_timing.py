"""tools/site_timing.py reads molecule logs (profile_tasks output) into the
wall time, tasks, module runs and time per role of each step's run."""

import site_timing  # tools/, on sys.path via tests/conftest.py

LOG = """\
INFO     [default > converge] Executing

PLAY [Firewall] ****************************************************************

TASK [Gathering Facts] *********************************************************
Sunday 29 November 2026  10:00:00 +0000 (0:00:00.050)       0:00:00.050 *******
ok: [e2e-trixie]

TASK [prodkit.stack.firewall : Install nftables] *******************************
Sunday 29 November 2026  10:00:02 +0000 (0:00:02.000)       0:00:02.050 *******
ok: [e2e-trixie]

TASK [prodkit.stack.docker_host : Create directories] **************************
Sunday 29 November 2026  10:00:05 +0000 (0:00:03.000)       0:00:05.050 *******
ok: [e2e-trixie] => (item=/etc/docker)
changed: [e2e-trixie] => (item=/etc/prodkit)
skipping: [e2e-trixie] => (item=/srv)

RUNNING HANDLER [prodkit.stack.docker_host : Restart docker] *******************
Sunday 29 November 2026  10:00:09 +0000 (0:00:04.000)       0:00:09.050 *******
changed: [e2e-trixie]

PLAY RECAP *********************************************************************
e2e-trixie                 : ok=4    changed=2    unreachable=0    failed=0

TASKS RECAP ********************************************************************
Sunday 29 November 2026  10:00:15 +0000 (0:00:06.000)       0:00:15.050 *******
===============================================================================
INFO     [default > idempotence] Executing

TASK [prodkit.stack.firewall : Install nftables] *******************************
Sunday 29 November 2026  10:01:00 +0000 (0:00:00.100)       0:00:00.100 *******
ok: [e2e-trixie]

TASKS RECAP ********************************************************************
Sunday 29 November 2026  10:01:01 +0000 (0:00:01.500)       0:00:01.600 *******
"""


def test_runs_per_step_with_totals_tasks_results_and_roles():
    converge, idempotence = site_timing.parse(LOG.splitlines(True))
    assert converge.step == "converge"
    assert converge.total == 15.05
    assert converge.tasks == 4
    assert converge.results == 6
    assert converge.roles == {"(playbook)": 2.0, "prodkit.stack.firewall": 3.0, "prodkit.stack.docker_host": 10.0}
    assert idempotence.step == "idempotence"
    assert idempotence.total == 1.6
    assert (idempotence.tasks, idempotence.results) == (1, 1)
    assert idempotence.roles == {"prodkit.stack.firewall": 1.5}


def test_cli_filters_steps_and_fails_without_runs(tmp_path, capsys):
    log = tmp_path / "m.log"
    log.write_text(LOG)
    assert site_timing.main([str(log), "--steps", "idempotence"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("idempotence")
    assert "converge" not in out
    empty = tmp_path / "empty.log"
    empty.write_text("nothing\n")
    assert site_timing.main([str(empty)]) == 1
