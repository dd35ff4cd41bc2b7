#!/usr/bin/python3
"""test_ops_privdrop: started as root with `user = nobody`, meshsnapd binds its port as
root and then runs as nobody. Runs only as root (skipped otherwise), and only when
nobody may execute the binary (the master re-executes itself for every child after the
switch).

- The master, every worker and the backfiller run with real, effective, saved and
  filesystem uid and gid of nobody, without root among their groups, with NoNewPrivs set.
- What the daemon creates after the switch belongs to nobody: the status block, the
  effective configuration and the snapshot environment.
- The API answers, and SIGTERM stops the daemon with status 0.
- A user that does not exist is refused at start: a non-zero exit status, a log line
  naming the user, and no child process started.
"""

import os
import pwd
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import mkdb  # noqa: E402
import msnlib  # noqa: E402

USER = "nobody"
NO_SUCH_USER = "msn-no-such-user-q7"


def proc_ids(pid):
    """(uids, gids, groups, no_new_privs) of a process from /proc/PID/status."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            ids[k] = v.split()
    return ([int(x) for x in ids["Uid"]], [int(x) for x in ids["Gid"]], [int(x) for x in ids.get("Groups", [])],
            ids.get("NoNewPrivs", ["?"])[0])


class PrivDropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = msnlib.meshsnapd_path()
        if os.geteuid() != 0:
            raise unittest.SkipTest("privilege drop needs root (running as uid %d)" % os.geteuid())
        try:
            cls.pw = pwd.getpwnam(USER)
        except KeyError:
            raise unittest.SkipTest("there is no user %s on this system" % USER)
        p = subprocess.run([binary, "--version"], user=cls.pw.pw_uid, group=cls.pw.pw_gid, extra_groups=[],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise unittest.SkipTest("user %s cannot execute %s (a directory on its path is not searchable?): %s"
                                    % (USER, binary, p.stderr.decode(errors="replace").strip()))
        cls.tmp = msnlib.make_tmpdir("msn-ops-privdrop-")
        os.chmod(cls.tmp, 0o755)
        cls.data = os.path.join(cls.tmp, "data")
        os.mkdir(cls.data)
        cls.db = os.path.join(cls.data, "privdrop.db")
        mkdb.build(cls.db, nodes=100, observers=6, transmissions=600, obs_per_tx=2.0, days=2, seed=61,
                   legacy_last_seen=True)
        for root, dirs, files in os.walk(cls.data):
            for n in dirs + files:
                os.chown(os.path.join(root, n), cls.pw.pw_uid, cls.pw.pw_gid)
        os.chown(cls.data, cls.pw.pw_uid, cls.pw.pw_gid)

    def test_runs_as_configured_user(self):
        uid, gid = self.pw.pw_uid, self.pw.pw_gid
        state = os.path.join(self.data, "state")
        os.mkdir(state)
        os.chown(state, uid, gid)
        d = msnlib.start_daemon(self.db, self.tmp, test=self, workers=2, state_dir=state, config={"user": USER})
        self.assertIn("running as user %s (uid %d)" % (USER, uid), d.log_text())
        h = d.health()
        pids = {"master": d.pid}
        for slot, pid in d.worker_pids(h).items():
            pids["worker %d" % slot] = pid
        bf = int(h.get("backfillerPid") or 0)
        if bf and msnlib.pid_alive(bf):
            pids["backfiller"] = bf
        self.assertEqual(len(pids), 3 + ("backfiller" in pids))
        for role, pid in pids.items():
            uids, gids, groups, nnp = proc_ids(pid)
            msnlib.log("%s (pid %d): uid %s gid %s groups %s NoNewPrivs %s" % (role, pid, uids, gids, groups, nnp))
            self.assertEqual(uids, [uid] * 4, "%s runs as %s" % (role, USER))
            self.assertEqual(gids, [gid] * 4, "%s runs with the group of %s" % (role, USER))
            self.assertNotIn(0, groups, "%s kept no root group" % role)
            self.assertEqual(nnp, "1", "%s cannot regain privileges" % role)
        for name in ("status", "effective.conf", "current"):
            self.assertEqual(os.lstat(os.path.join(state, name)).st_uid, uid, "%s belongs to %s" % (name, USER))
        snap = os.path.join(state, os.readlink(os.path.join(state, "current")))
        self.assertEqual(os.stat(os.path.join(snap, "data.mdb")).st_uid, uid)
        self.assertEqual(d.get("/api/stats").status, 200)
        # the backfiller wrote the database as nobody
        self.assertTrue(d.wait_for(lambda: "all migrations done" in d.log_text(), timeout=30,
                                   what="the backfill to finish"))
        self.assertNotIn("readonly database", d.log_text())
        d.stop()

    def test_unknown_user_is_refused(self):
        state = os.path.join(self.tmp, "state-refused")
        d = msnlib.Daemon(self.db, self.tmp, workers=2, state_dir=state, config={"user": NO_SUCH_USER}).start()
        self.addCleanup(d.cleanup)
        try:
            rc = d.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.fail("meshsnapd kept running with user = %s:\n%s" % (NO_SUCH_USER, d.log_text()))
        log = d.log_text()
        msnlib.log("user = %s: exit status %d, log: %s" % (NO_SUCH_USER, rc, log.strip().splitlines()[-1]))
        self.assertNotEqual(rc, 0)
        self.assertRegex(log, r"%s[^\n]*no such user" % re.escape(NO_SUCH_USER))
        self.assertNotIn("started worker", log)
        self.assertEqual(msnlib.live_pids(parent=d.pid), [])
        self.assertFalse(os.path.exists(os.path.join(state, "status")), "nothing written to state_dir")


if __name__ == "__main__":
    msnlib.main(PrivDropTest)
