"""The Debian package, as an administrator gets it: built with
`cpack -G DEB` from the build tree ($DRF_BUILD_DIR), inspected, installed on
this machine with dpkg, exercised (versions, --check-config, the service
user, the permissions on /etc/dr-failover, both daemons run the way the
systemd units run them, `systemd-analyze verify` and `security` on the
installed units), reinstalled, removed and purged.

Needs root (dpkg) and a machine where dr-failover is not installed: the
tests install and purge the real package, and fail rather than touch an
installation they did not make. Everything they add (the package, the
dr-failover user if it was not there, test secrets, the state directory) is
removed again. systemd need not be running: the maintainer scripts must work
without it, and the daemons are started here as the units would start them.
"""

import fcntl
import grp
import os
import pathlib
import pwd
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from harness import (free_port, http, repo_root, scrape,  # noqa: E402
                     start_process, wait_until)

PACKAGE = "dr-failover"
USER = "dr-failover"
CONF_DIR = pathlib.Path("/etc/dr-failover")
CONFIG = CONF_DIR / "config.yml"
STATE_DIR = pathlib.Path("/var/lib/dr-actuator")
UNIT_DIR = pathlib.Path("/lib/systemd/system")
UNITS = ("dr-exporter.service", "dr-actuator.service")
DAEMONS = ("dr-exporter", "dr-actuator")
WANTS_DIR = pathlib.Path("/etc/systemd/system/multi-user.target.wants")

# Every file the package ships: path -> mode (all root:root in the archive).
EXPECTED_FILES = {
    "/usr/bin/dr-exporter": 0o755,
    "/usr/bin/dr-actuator": 0o755,
    "/etc/dr-failover/config.yml": 0o640,
    "/etc/default/dr-exporter": 0o600,
    "/etc/default/dr-actuator": 0o600,
    "/lib/systemd/system/dr-exporter.service": 0o644,
    "/lib/systemd/system/dr-actuator.service": 0o644,
    "/usr/lib/sysusers.d/dr-failover.conf": 0o644,
    "/usr/share/doc/dr-failover/README.md": 0o644,
}
CONFFILES = ["/etc/dr-failover/config.yml", "/etc/default/dr-exporter",
             "/etc/default/dr-actuator"]

# One run at a time per machine: two would install and purge the same
# package under each other (two ctest runs in one build tree, say).
LOCK_FILE = (pathlib.Path(tempfile.gettempdir())
             / "dr-failover-package-test.lock")
LOCK_TIMEOUT = 300

# Filled by setUpModule.
lock = None           # the open LOCK_FILE, flock'ed
deb = None            # pathlib.Path of the built package
work = None           # the module's temporary directory
user_existed = False  # whether the dr-failover user was there before us
timings = {}


def run(argv, **kwargs):
    """Runs argv to completion; returns the CompletedProcess (text output)."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    kwargs.setdefault("timeout", 300)
    return subprocess.run([str(a) for a in argv], **kwargs)


def dpkg(*args):
    """dpkg with `args`, waiting (up to 2 min) while another process holds
    the dpkg lock (an apt-get elsewhere on the machine)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + 120
    while True:
        r = run(["dpkg", *args], env=env)
        if (r.returncode != 0 and "locked by another process" in r.stderr
                and time.monotonic() < deadline):
            time.sleep(2)
            continue
        return r


def installed():
    r = run(["dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE])
    return r.returncode == 0 and r.stdout.strip() not in ("", "not-installed")


def project_version():
    text = (repo_root() / "CMakeLists.txt").read_text()
    m = re.search(r"project\(\s*dr-failover\s+VERSION\s+([0-9.]+)", text)
    assert m, "no project(dr-failover VERSION x.y.z) in CMakeLists.txt"
    return m.group(1)


def as_service_user():
    """The prefix that runs a command as the units' User=/Group= do."""
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups",
            "--"]


def unit_directives(path):
    """{key: [values]} of a unit file, every section merged (keys do not
    repeat across the sections these units use)."""
    directives = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, _, value = line.partition("=")
        directives.setdefault(key.strip(), []).append(value.strip())
    return directives


def environment_file(path):
    """The KEY=value assignments of an EnvironmentFile (no comments)."""
    env = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        env[key] = " ".join(shlex.split(value))
    return env


def purge():
    r = dpkg("--purge", PACKAGE)
    assert r.returncode == 0, f"dpkg --purge failed:\n{r.stdout}{r.stderr}"
    return r


def setUpModule():
    global deb, work, user_existed
    build = os.environ.get("DRF_BUILD_DIR")
    if not build:
        raise AssertionError("DRF_BUILD_DIR is not set (ctest sets it)")
    if os.geteuid() != 0:
        raise AssertionError("these tests install a package: run them as root")
    global lock
    lock = open(LOCK_FILE, "a")
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise AssertionError(f"another run held {LOCK_FILE} for "
                                     f"{LOCK_TIMEOUT}s") from None
            time.sleep(1)
    if installed():
        raise AssertionError(
            f"{PACKAGE} is already installed on this machine; these tests "
            f"install and purge it, so remove it first "
            f"(dpkg --purge {PACKAGE})")
    try:
        pwd.getpwnam(USER)
        user_existed = True
    except KeyError:
        user_existed = False
    work = pathlib.Path(tempfile.mkdtemp(prefix="drf-package-"))
    out = work / "cpack"
    started = time.monotonic()
    r = run(["cpack", "-G", "DEB", "-B", out,
             "--config", pathlib.Path(build) / "CPackConfig.cmake"])
    timings["cpack"] = time.monotonic() - started
    if r.returncode != 0:
        raise AssertionError(f"cpack failed:\n{r.stdout}{r.stderr}")
    debs = sorted(out.glob("*.deb"))
    if len(debs) != 1:
        raise AssertionError(f"cpack made {debs}, expected one .deb")
    deb = debs[0]
    print(f"\n{deb.name}: {deb.stat().st_size} bytes, cpack "
          f"{timings['cpack']:.1f}s", file=sys.stderr)


def tearDownModule():
    if installed():
        purge()
    if not user_existed:
        if run(["getent", "passwd", USER]).returncode == 0:
            run(["userdel", USER])
        if run(["getent", "group", USER]).returncode == 0:
            run(["groupdel", USER])
    if work is not None:
        shutil.rmtree(work, ignore_errors=True)
    if lock is not None:
        lock.close()  # releases the flock


class PackageContentsTest(unittest.TestCase):
    """What dpkg-deb shows of the built package, before it is installed."""

    @classmethod
    def setUpClass(cls):
        cls.root = work / "contents"
        cls.control = work / "control"
        for argv in (["dpkg-deb", "-x", deb, cls.root],
                     ["dpkg-deb", "-e", deb, cls.control]):
            r = run(argv)
            assert r.returncode == 0, r.stderr

    def field(self, name):
        r = run(["dpkg-deb", "-f", deb, name])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def depends(self):
        """[[alternative package names]] of the Depends field."""
        groups = []
        for group in self.field("Depends").split(","):
            groups.append([re.sub(r"\s*\(.*\)", "", alt).strip().split(":")[0]
                           for alt in group.split("|")])
        return groups

    def test_control_fields_name_version_section_priority_maintainer(self):
        self.assertEqual(self.field("Package"), PACKAGE)
        self.assertEqual(self.field("Version"), project_version())
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        self.assertEqual(self.field("Architecture"), arch)
        self.assertEqual(self.field("Section"), "admin")
        self.assertEqual(self.field("Priority"), "optional")
        self.assertRegex(self.field("Maintainer"),
                         r"^[^<>]+ <[^@\s]+@[^>\s]+>$")

    def test_description_has_a_summary_and_a_long_text(self):
        lines = self.field("Description").splitlines()
        self.assertIn("failover", lines[0])
        self.assertGreaterEqual(len(lines), 3)
        self.assertTrue(any("dr-exporter" in x for x in lines[1:]))
        self.assertTrue(any("dr-actuator" in x for x in lines[1:]))

    def test_depends_are_computed_from_the_binaries(self):
        names = {name for group in self.depends() for name in group}
        # dpkg-shlibdeps' versioned libraries, one per linked library...
        for lib in ("libc6", "libstdc++6", "libcurl4", "libssh-4",
                    "libcivetweb1", "libyaml-cpp0.7"):
            self.assertIn(lib, names)
        self.assertRegex(self.field("Depends"), r"libc6 \(>= [0-9.]+\)")
        # ...and the CA bundle HTTPS to Linode and AWS needs.
        self.assertIn("ca-certificates", names)
        self.assertFalse([n for n in names if n.endswith("-dev")])

    def test_every_dependency_is_a_package_apt_knows(self):
        # `apt-get install ./dr-failover_*.deb` (the Dockerfile's runtime
        # stage) resolves these from Debian 12's archive.
        for group in self.depends():
            found = [n for n in group
                     if run(["apt-cache", "show", n]).returncode == 0]
            self.assertTrue(found, f"no package of {group} is known to apt")

    def test_ships_exactly_the_binaries_config_units_and_sysusers(self):
        r = run(["dpkg-deb", "-c", deb])
        self.assertEqual(r.returncode, 0, r.stderr)
        files = {}
        for line in r.stdout.splitlines():
            perms, owner, _size, _date, _time, name = line.split(None, 5)
            if perms.startswith("d"):
                continue
            self.assertEqual(owner, "root/root", line)
            files[name.lstrip(".")] = perms
        self.assertEqual(sorted(files), sorted(EXPECTED_FILES))
        for name, mode in EXPECTED_FILES.items():
            self.assertEqual(stat.filemode(mode)[1:], files[name][1:], name)

    def test_conffiles_are_the_config_and_the_environment_files(self):
        conffiles = (self.control / "conffiles").read_text().split()
        self.assertEqual(sorted(conffiles), sorted(CONFFILES))

    def test_config_and_units_are_the_repository_examples(self):
        pairs = {
            "etc/dr-failover/config.yml": "examples/config.yml",
            "etc/default/dr-exporter": "examples/systemd/dr-exporter.default",
            "etc/default/dr-actuator": "examples/systemd/dr-actuator.default",
            "lib/systemd/system/dr-exporter.service":
                "examples/systemd/dr-exporter.service",
            "lib/systemd/system/dr-actuator.service":
                "examples/systemd/dr-actuator.service",
        }
        for packaged, source in pairs.items():
            self.assertEqual((self.root / packaged).read_bytes(),
                             (repo_root() / source).read_bytes(), packaged)

    def test_binaries_are_stripped(self):
        for daemon in DAEMONS:
            r = run(["readelf", "-S", "-W", self.root / "usr/bin" / daemon])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(".text", r.stdout)
            self.assertNotIn(".debug_info", r.stdout, daemon)
            self.assertNotIn(".symtab", r.stdout, daemon)

    def test_maintainer_scripts_are_valid_sh_and_guard_systemctl(self):
        for script in ("postinst", "prerm", "postrm"):
            path = self.control / script
            self.assertTrue(os.access(path, os.X_OK), script)
            r = run(["sh", "-n", path])
            self.assertEqual(r.returncode, 0, f"{script}: {r.stderr}")
            # Every systemctl call sits inside an `if` that tests for a
            # running systemd; none enables or starts a unit.
            ifs = []  # the conditions of the enclosing if blocks
            calls = 0
            for i, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0].strip()
                if code.startswith("if "):
                    ifs.append(code)
                elif code == "fi":
                    ifs.pop()
                if "systemctl" in code and not code.startswith("if "):
                    calls += 1
                    self.assertTrue(
                        any("[ -d /run/systemd/system ]" in c for c in ifs),
                        f"{script}:{i}: systemctl outside the guard")
                    self.assertNotRegex(code, r"systemctl\s+(enable|start)\b",
                                        f"{script}:{i}: starts or enables")
            self.assertEqual(ifs, [], f"{script}: unbalanced if/fi")
            self.assertGreater(calls, 0, script)


class InstalledPackageTest(unittest.TestCase):
    """The package installed with `dpkg -i` on this machine."""

    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        r = dpkg("-i", deb)
        timings["dpkg -i"] = time.monotonic() - started
        cls.install_output = r.stdout + r.stderr
        cls.addClassCleanup(purge)
        assert r.returncode == 0, f"dpkg -i failed:\n{cls.install_output}"

    def test_binaries_report_the_package_version(self):
        for daemon in DAEMONS:
            r = run([f"/usr/bin/{daemon}", "--version"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(
                r.stdout,
                rf"^{daemon}, version {re.escape(project_version())} "
                r"\(revision \S+\)\n$")

    def test_installed_example_config_passes_check_config(self):
        for daemon in DAEMONS:
            r = run([f"/usr/bin/{daemon}", "--config.file", CONFIG,
                     "--check-config"])
            self.assertEqual((r.returncode, r.stdout, r.stderr),
                             (0, f"{CONFIG}: OK\n", ""), daemon)

    def test_check_config_rejects_a_bad_file(self):
        bad = work / "bad.yml"
        text = CONFIG.read_text()
        self.assertIn("mode: auto", text)
        bad.write_text(text.replace("mode: auto", "mode: sometimes"))
        for daemon in DAEMONS:
            r = run([f"/usr/bin/{daemon}", "--config.file", bad,
                     "--check-config"])
            self.assertEqual(r.returncode, 1, daemon)
            self.assertIn("actuator.mode", r.stderr)

    def test_postinst_creates_a_system_user_without_a_login(self):
        user = pwd.getpwnam(USER)
        group = grp.getgrnam(USER)
        self.assertEqual(user.pw_gid, group.gr_gid)
        self.assertLess(user.pw_uid, 1000)  # a system uid (SYS_UID_MAX 999)
        self.assertGreater(user.pw_uid, 0)
        self.assertEqual(user.pw_shell, "/usr/sbin/nologin")
        self.assertEqual(user.pw_dir, "/nonexistent")
        self.assertFalse(os.path.exists(user.pw_dir))

    def test_config_directory_is_root_owned_and_readable_by_the_group(self):
        gid = grp.getgrnam(USER).gr_gid
        for path, mode in ((CONF_DIR, 0o750), (CONFIG, 0o640)):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                             (0, gid, mode), path)
        r = run(["dpkg-statoverride", "--list", CONFIG])
        self.assertEqual(r.stdout.split(), ["root", USER, "640", str(CONFIG)])

    def test_service_user_can_read_the_config_and_others_cannot(self):
        for daemon in DAEMONS:
            r = run([*as_service_user(), f"/usr/bin/{daemon}",
                     "--config.file", CONFIG, "--check-config"])
            self.assertEqual((r.returncode, r.stderr), (0, ""), daemon)
            r = run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                     "--clear-groups", "--", f"/usr/bin/{daemon}",
                     "--config.file", CONFIG, "--check-config"])
            self.assertEqual(r.returncode, 1, daemon)
            self.assertIn("Permission denied", r.stderr)

    def test_install_neither_enables_nor_starts_the_daemons(self):
        for unit in UNITS:
            self.assertFalse(os.path.lexists(WANTS_DIR / unit), unit)
        self.assertNotIn("Created symlink", self.install_output)
        for daemon in DAEMONS:
            r = run(["pgrep", "-x", "-u", USER, daemon])
            self.assertEqual(r.returncode, 1, f"{daemon} runs: {r.stdout}")

    def test_units_pass_systemd_analyze_verify(self):
        # Works offline (no running systemd): it loads the units, checks
        # every directive and that the Exec* binaries exist.
        r = run(["systemd-analyze", "verify",
                 *(UNIT_DIR / u for u in UNITS)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        ours = [x for x in (r.stdout + r.stderr).splitlines()
                if "dr-exporter" in x or "dr-actuator" in x]
        self.assertEqual(ours, [])

    def test_units_exposure_is_low(self):
        for unit in UNITS:
            r = run(["systemd-analyze", "security", "--offline=yes",
                     "--no-pager", UNIT_DIR / unit])
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)",
                          r.stdout)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            exposure = float(m.group(1))
            print(f"\n{unit}: exposure {exposure}", file=sys.stderr)
            self.assertLessEqual(exposure, 2.0, r.stdout)

    def test_units_are_hardened_and_reload_on_sighup(self):
        for daemon, unit in zip(DAEMONS, UNITS):
            d = unit_directives(UNIT_DIR / unit)
            flag = f"--config.file={CONFIG}"
            self.assertEqual(d["User"], [USER])
            self.assertEqual(d["Group"], [USER])
            self.assertEqual(d["ExecStartPre"],
                             [f"/usr/bin/{daemon} {flag} --check-config"])
            self.assertTrue(d["ExecStart"][0].startswith(
                f"/usr/bin/{daemon} {flag}"))
            self.assertEqual(d["ExecReload"], ["/bin/kill -HUP $MAINPID"])
            self.assertEqual(d["Restart"], ["on-failure"])
            self.assertEqual(d["EnvironmentFile"], [f"-/etc/default/{daemon}"])
            for key, value in (("NoNewPrivileges", "yes"),
                               ("ProtectSystem", "strict"),
                               ("ProtectHome", "yes"),
                               ("PrivateTmp", "yes"),
                               ("CapabilityBoundingSet", ""),
                               ("RestrictAddressFamilies",
                                "AF_INET AF_INET6 AF_UNIX")):
                self.assertEqual(d[key], [value], f"{unit}: {key}")
            self.assertIn("@system-service", d["SystemCallFilter"])
            self.assertEqual(d["WantedBy"], ["multi-user.target"])
            self.assertNotIn("DynamicUser", d)
        actuator = unit_directives(UNIT_DIR / "dr-actuator.service")
        self.assertEqual(actuator["StateDirectory"], ["dr-actuator"])
        self.assertEqual(actuator["StateDirectoryMode"], ["0700"])
        self.assertNotIn("StateDirectory",
                         unit_directives(UNIT_DIR / "dr-exporter.service"))

    def test_daemons_run_as_the_units_run_them(self):
        """Both daemons, started as their unit starts them (ExecStart, its
        EnvironmentFile, User=dr-failover), read secrets laid out as the
        README says (root:dr-failover 0640 in /etc/dr-failover), serve, reload
        on SIGHUP (the units' ExecReload) and stop cleanly on SIGTERM.

        The config is the installed one with every remote endpoint pointed
        at a closed loopback port: nothing leaves the machine.
        """
        gid = grp.getgrnam(USER).gr_gid
        config = yaml.safe_load(CONFIG.read_text())
        for site in config["sites"]:
            site["health_url"] = "http://127.0.0.1:1/health.php"
        config["dns"]["api_url"] = "http://127.0.0.1:1/v4"
        config["dynamodb"]["endpoint"] = "http://127.0.0.1:1"
        key = work / "id_ed25519"
        r = run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key])
        self.assertEqual(r.returncode, 0, r.stderr)
        secrets = {
            "test-config.yml": yaml.safe_dump(config, sort_keys=False),
            "linode-token": "test-linode-token\n",
            "webhook-token": "test-webhook-token\n",
            "api-token": "test-api-token\n",
            "id_ed25519": key.read_text(),
            "known_hosts": "",
            "aws-access-key-id": "AKIDEXAMPLE\n",
            "aws-secret-access-key": "test-secret\n",
        }
        for name, text in secrets.items():
            path = CONF_DIR / name
            self.assertFalse(path.exists(), f"{path} exists already")
            self.addCleanup(path.unlink)
            path.write_text(text)
            os.chown(path, 0, gid)
            os.chmod(path, 0o640)
        # What StateDirectory=dr-actuator does before the actuator starts.
        self.assertFalse(STATE_DIR.exists(), f"{STATE_DIR} exists already")
        self.addCleanup(shutil.rmtree, STATE_DIR)
        STATE_DIR.mkdir(mode=0o700)
        os.chown(STATE_DIR, pwd.getpwnam(USER).pw_uid, gid)

        test_config = str(CONF_DIR / "test-config.yml")
        for daemon, unit in zip(DAEMONS, UNITS):
            d = unit_directives(UNIT_DIR / unit)
            env = environment_file(f"/etc/default/{daemon}")
            if daemon == "dr-exporter":
                env["AWS_ACCESS_KEY_ID_FILE"] = str(
                    CONF_DIR / "aws-access-key-id")
                env["AWS_SECRET_ACCESS_KEY_FILE"] = str(
                    CONF_DIR / "aws-secret-access-key")
            port = free_port()
            env[f"{daemon.upper().replace('-', '_')}_ARGS"] = \
                f"--web.listen-address=127.0.0.1:{port}"
            # systemd's $VAR expansion: the value split on whitespace.
            argv = []
            for word in shlex.split(d["ExecStart"][0]):
                if word.startswith("$"):
                    argv += env.get(word[1:], "").split()
                else:
                    argv.append(word.replace(str(CONFIG), test_config))
            base = f"http://127.0.0.1:{port}"
            proc = start_process([*as_service_user(), *argv],
                                 ready_url=f"{base}/-/healthy", env=env,
                                 cwd="/")
            self.addCleanup(proc.stop)
            r = run(["ps", "-o", "user=", "-p", proc.pid])
            self.assertEqual(r.stdout.strip(), USER, daemon)
            build_info = daemon.replace("dr-", "dr_") + "_build_info"
            m = scrape(f"{base}/metrics")
            self.assertEqual(
                m.value(build_info, version=project_version()), 1, daemon)
            self.assertNotIn("config reloaded", proc.log_text())
            proc.signal(signal.SIGHUP)
            # The actuator applies a reload between two reconcile rounds;
            # its first round waits out the unreachable provider's retries.
            wait_until(lambda: "config reloaded" in proc.log_text(), 30,
                       interval=0.2,
                       message=f"{daemon} logs the SIGHUP reload")
            self.assertEqual(scrape(f"{base}/metrics").value(
                "dr_config_last_reload_successful"), 1, daemon)
            self.assertTrue(proc.running(), proc.log_text())
            status, _, _ = http("GET", f"{base}/-/healthy")
            self.assertEqual(status, 200)
            self.assertEqual(proc.stop(timeout=10), 0, proc.log_text())
            self.assertIn("shutting down", proc.log_text())


class LifecycleTest(unittest.TestCase):
    """Reinstall, remove and purge, as an administrator goes through them."""

    def setUp(self):
        self.addCleanup(lambda: installed() and purge())
        r = dpkg("-i", deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_reinstall_keeps_edits_permissions_and_the_user(self):
        uid = pwd.getpwnam(USER).pw_uid
        edited = CONFIG.read_text() + "# edited by the administrator\n"
        CONFIG.write_text(edited)
        r = dpkg("-i", deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(CONFIG.read_text(), edited)
        st = os.stat(CONFIG)
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                         (0, grp.getgrnam(USER).gr_gid, 0o640))
        self.assertEqual(pwd.getpwnam(USER).pw_uid, uid)

    def test_remove_keeps_the_config_and_purge_removes_it(self):
        r = dpkg("--remove", PACKAGE)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for path in ("/usr/bin/dr-exporter", "/usr/bin/dr-actuator",
                     *(UNIT_DIR / u for u in UNITS)):
            self.assertFalse(os.path.exists(path), path)
        self.assertTrue(CONFIG.exists())
        self.assertTrue(pathlib.Path("/etc/default/dr-exporter").exists())

        r = purge()
        self.assertNotIn("warning", (r.stdout + r.stderr).lower())
        self.assertFalse(CONF_DIR.exists())
        self.assertFalse(pathlib.Path("/etc/default/dr-exporter").exists())
        self.assertFalse(pathlib.Path("/etc/default/dr-actuator").exists())
        r = run(["dpkg-statoverride", "--list"])
        self.assertNotIn(str(CONF_DIR), r.stdout)
        # Kept on purge by design (packaging/deb/postrm): the user.
        pwd.getpwnam(USER)

    def test_purge_removes_enablement_links_left_by_the_administrator(self):
        WANTS_DIR.mkdir(parents=True, exist_ok=True)
        for unit in UNITS:
            link = WANTS_DIR / unit
            self.assertFalse(os.path.lexists(link), link)
            self.addCleanup(lambda p=link: p.unlink(missing_ok=True))
            link.symlink_to(UNIT_DIR / unit)  # what `systemctl enable` makes
        purge()
        for unit in UNITS:
            self.assertFalse(os.path.lexists(WANTS_DIR / unit), unit)


class PostinstWithoutSysusersTest(unittest.TestCase):
    """postinst on machines without systemd-sysusers (a debian:12-slim
    container has neither it nor, maybe, adduser): the same user, made by
    adduser or by useradd."""

    def setUp(self):
        if user_existed:
            self.skipTest(f"the {USER} user predates these tests; they only "
                          "delete a user they made")
        self.addCleanup(lambda: installed() and purge())
        r = dpkg("-i", deb)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def reconfigure_with_only(self, tools):
        """Deletes the user and the stat overrides, then runs the installed
        postinst with a PATH holding only `tools`."""
        for path in (CONFIG, CONF_DIR):
            run(["dpkg-statoverride", "--remove", path])
        r = run(["userdel", USER])
        self.assertEqual(r.returncode, 0, r.stderr)
        run(["groupdel", USER])  # userdel removes it when USERGROUPS_ENAB
        bin_dir = work / "bin"
        shutil.rmtree(bin_dir, ignore_errors=True)
        bin_dir.mkdir()
        for tool in ("getent", "dpkg-statoverride", *tools):
            found = shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
            self.assertIsNotNone(found, tool)
            (bin_dir / tool).symlink_to(found)
        r = run(["/bin/sh", f"/var/lib/dpkg/info/{PACKAGE}.postinst",
                 "configure", ""], env={"PATH": str(bin_dir)})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def assert_service_user_ready(self):
        user = pwd.getpwnam(USER)
        self.assertEqual(user.pw_gid, grp.getgrnam(USER).gr_gid)
        self.assertTrue(0 < user.pw_uid < 1000, user)
        self.assertEqual(user.pw_shell, "/usr/sbin/nologin")
        self.assertEqual(user.pw_dir, "/nonexistent")
        self.assertFalse(os.path.exists("/nonexistent"))
        r = run([*as_service_user(), "/usr/bin/dr-actuator", "--config.file",
                 CONFIG, "--check-config"])
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def test_adduser_makes_the_user(self):
        self.reconfigure_with_only(["adduser"])
        self.assert_service_user_ready()

    def test_useradd_makes_the_user(self):
        self.reconfigure_with_only(["useradd"])
        self.assert_service_user_ready()


if __name__ == "__main__":
    unittest.main()
