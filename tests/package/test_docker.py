"""The Dockerfile's contract, checked statically: this machine and CI have
the docker client but no daemon (and no registry access), so the image is
never built here. What is checked: two stages on Debian 12, the build stage
installs the libraries scripts/setup.sh lists and builds the package with
CMake/Ninja/cpack, its COPYs (after .dockerignore) are enough to configure
the project, every apt package named exists, the runtime stage installs only
the project's .deb (whose Depends pull the libraries) as a fixed numeric
non-root user, exposes the daemons' ports, carries OCI labels, and has an
exec-form CMD and no ENTRYPOINT (the Helm chart picks the daemon).
"""

import fnmatch
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from harness import build_dir, repo_root  # noqa: E402

ROOT = repo_root()


def instructions(text):
    """[(INSTRUCTION, arguments)] of a Dockerfile: comments dropped,
    backslash continuations joined."""
    out, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        if full:
            keyword, _, rest = full.partition(" ")
            out.append((keyword.upper(), " ".join(rest.split())))
    return out


def stages(instrs):
    """[[(INSTRUCTION, arguments)]], one list per FROM."""
    result = []
    for ins in instrs:
        if ins[0] == "FROM":
            result.append([])
        result[-1].append(ins)
    return result


def apt_installs(stage):
    """Every argument of `apt-get install` in the stage's RUNs, options
    dropped (package names and .deb paths)."""
    names = []
    for keyword, args in stage:
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", args):
            words = shlex.split(command)
            if words[:2] == ["apt-get", "install"]:
                names += [w for w in words[2:] if not w.startswith("-")]
    return names


def setup_libraries():
    """The packages under '# libraries' in scripts/setup.sh's list."""
    lines = (ROOT / "scripts/setup.sh").read_text().splitlines()
    start = next(i for i, x in enumerate(lines)
                 if x.strip().startswith("# libraries"))
    names = []
    for line in lines[start + 1:]:
        if line.strip().startswith("#") or line.strip() == ")":
            break
        names += line.split()
    assert names, "no packages under '# libraries' in scripts/setup.sh"
    return names


def dockerignore_patterns():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [x.strip() for x in lines if x.strip() and not x.startswith("#")]


def ignored(path, patterns):
    """Whether .dockerignore drops `path` (a relative path) or a folder
    above it; patterns use Go's filepath.Match syntax, which fnmatch covers
    for these (no negations are used)."""
    assert not any(p.startswith("!") for p in patterns), "negation unhandled"
    parts = pathlib.PurePosixPath(path).parts
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        for p in patterns:
            if fnmatch.fnmatchcase(prefix, p.lstrip("/")) or (
                    p.startswith("**/") and
                    fnmatch.fnmatchcase(parts[i - 1], p[3:])):
                return True
    return False


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.instrs = instructions((ROOT / "Dockerfile").read_text())
        cls.stages = stages(cls.instrs)
        cls.build, cls.runtime = cls.stages[0], cls.stages[-1]

    def args(self, stage, keyword):
        return [a for k, a in stage if k == keyword]

    def test_two_stages_debian_12_build_then_slim_runtime(self):
        self.assertEqual(len(self.stages), 2)
        self.assertEqual(self.args(self.build, "FROM"), ["debian:12 AS build"])
        self.assertEqual(self.args(self.runtime, "FROM"), ["debian:12-slim"])

    def test_build_stage_installs_the_libraries_setup_sh_lists(self):
        installed = apt_installs(self.build)
        wanted = [p for p in setup_libraries()
                  if p not in ("libgtest-dev", "libgmock-dev")]  # tests only
        self.assertEqual([p for p in wanted if p not in installed], [])
        # The toolchain, and what cpack's dpkg-shlibdeps step runs.
        for tool in ("build-essential", "cmake", "ninja-build", "pkg-config",
                     "file", "dpkg-dev"):
            self.assertIn(tool, installed)

    def test_every_apt_package_named_exists(self):
        names = [n for stage in self.stages for n in apt_installs(stage)
                 if "/" not in n]
        self.assertGreater(len(names), 10)
        for name in names:
            r = subprocess.run(["apt-cache", "show", name],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, f"apt knows no {name}")

    def test_build_stage_builds_release_with_ninja_and_makes_the_deb(self):
        run = " && ".join(self.args(self.build, "RUN"))
        self.assertRegex(run, r"cmake -S \. -B (\S+) -G Ninja "
                              r"-DCMAKE_BUILD_TYPE=Release")
        self.assertIn("-DBUILD_TESTING=OFF", run)
        self.assertRegex(run, r"cmake --build \S+")
        self.assertRegex(run, r"cpack -G DEB -B /out")

    def test_build_context_is_enough_to_configure_the_project(self):
        """Copies what the build stage COPYs (minus .dockerignore) into an
        empty folder and configures it as the build stage does."""
        patterns = dockerignore_patterns()
        with tempfile.TemporaryDirectory(prefix="drf-docker-") as tmp:
            src = pathlib.Path(tmp) / "src"
            src.mkdir()
            for args in self.args(self.build, "COPY"):
                *sources, dest = args.split()
                target = src / dest
                for source in sources:
                    self.assertNotRegex(source, r"[*?\[]", "globs unhandled")
                    self.assertFalse(ignored(source, patterns),
                                     f".dockerignore drops COPY {source}")
                    origin = ROOT / source
                    if origin.is_dir():  # COPY dir dest copies its contents
                        shutil.copytree(
                            origin, target, dirs_exist_ok=True,
                            ignore=lambda d, names: [
                                n for n in names if ignored(os.path.relpath(
                                    os.path.join(d, n), ROOT), patterns)])
                    elif dest.endswith("/") or len(sources) > 1:
                        target.mkdir(parents=True, exist_ok=True)
                        shutil.copy(origin, target / origin.name)
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy(origin, target)
            r = subprocess.run(
                ["cmake", "-S", src, "-B", pathlib.Path(tmp) / "build",
                 "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                 "-DBUILD_TESTING=OFF"],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # Configuring does not open the files that install() and cpack
            # take (config, units, maintainer scripts): check they came.
            build = pathlib.Path(tmp) / "build"
            text = "".join(p.read_text() for p in
                           [build / "CPackConfig.cmake",
                            *build.rglob("cmake_install.cmake")])
            named = set(re.findall(re.escape(str(src)) + r'/[^"\s;]+', text))
            self.assertGreater(len(named), 5)
            self.assertEqual(sorted(p for p in named
                                    if not pathlib.Path(p).exists()), [])

    def test_dockerignore_drops_build_trees_node_modules_and_git(self):
        patterns = dockerignore_patterns()
        for path in (".git/config", "build/CMakeCache.txt",
                     "build-asan/CMakeCache.txt", "node_modules/x/index.js",
                     "tests/unit/config_test.cc"):
            self.assertTrue(ignored(path, patterns), path)
        for path in ("CMakeLists.txt", "core/CMakeLists.txt",
                     "examples/config.yml", "packaging/deb/postinst"):
            self.assertFalse(ignored(path, patterns), path)

    def test_runtime_installs_only_the_projects_deb(self):
        copies = self.args(self.runtime, "COPY")
        self.assertIn("--from=build /out/dr-failover_*.deb /tmp/", copies)
        self.assertEqual(apt_installs(self.runtime),
                         ["/tmp/dr-failover_*.deb"])
        # The name cpack gives it (CPACK_DEBIAN_FILE_NAME DEB-DEFAULT).
        arch = subprocess.run(["dpkg", "--print-architecture"],
                              capture_output=True, text=True).stdout.strip()
        version = re.search(r"project\(dr-failover VERSION ([0-9.]+)",
                            (ROOT / "CMakeLists.txt").read_text()).group(1)
        self.assertTrue(fnmatch.fnmatch(f"dr-failover_{version}_{arch}.deb",
                                        "dr-failover_*.deb"))
        run = " && ".join(self.args(self.runtime, "RUN"))
        self.assertIn("rm -rf /var/lib/apt/lists/*", run)
        self.assertIn("--no-install-recommends", run)
        self.assertNotRegex(run, r"-dev\b|build-essential|cmake")

    def test_runtime_runs_as_a_fixed_numeric_non_root_user(self):
        users = self.args(self.runtime, "USER")
        self.assertEqual(users, ["65532:65532"])
        # The user exists in the image with those ids before the package
        # is installed, so postinst keeps it and /etc/dr-failover is
        # readable by gid 65532.
        runs = self.args(self.runtime, "RUN")
        create = next(i for i, r in enumerate(runs) if "useradd" in r)
        install = next(i for i, r in enumerate(runs) if "apt-get install" in r)
        self.assertLess(create, install)
        self.assertRegex(runs[create], r"groupadd .*--gid 65532 dr-failover")
        self.assertRegex(runs[create],
                         r"useradd .*--uid 65532 --gid 65532 .*dr-failover")
        self.assertRegex(runs[install], r"install -d -o 65532 -g 65532 "
                                        r"-m 0700 /var/lib/dr-actuator")

    def test_runtime_exposes_the_daemons_default_ports(self):
        exposed = " ".join(self.args(self.runtime, "EXPOSE")).split()
        ports = []
        for daemon in ("exporter/dr-exporter", "actuator/dr-actuator"):
            r = subprocess.run([build_dir() / daemon, "--help"],
                               capture_output=True, text=True)
            m = re.search(r"--web\.listen-address TEXT=:(\d+)", r.stdout)
            self.assertIsNotNone(m, r.stdout)
            ports.append(m.group(1))
        self.assertEqual(sorted(exposed), sorted(ports))

    def test_runtime_has_oci_labels_matching_the_project_version(self):
        labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)='
                                 r'"([^"]*)"',
                                 " ".join(self.args(self.runtime, "LABEL"))))
        for key in ("title", "description", "version", "revision",
                    "base.name"):
            self.assertTrue(labels.get(f"org.opencontainers.image.{key}"), key)
        self.assertEqual(labels["org.opencontainers.image.title"],
                         "dr-failover")
        version = re.search(r"project\(dr-failover VERSION ([0-9.]+)",
                            (ROOT / "CMakeLists.txt").read_text()).group(1)
        self.assertIn(f"VERSION={version}", self.args(self.runtime, "ARG"))

    def test_no_entrypoint_and_an_exec_form_cmd(self):
        self.assertEqual(self.args(self.runtime, "ENTRYPOINT"), [])
        cmd = self.args(self.runtime, "CMD")
        self.assertEqual(len(cmd), 1)
        argv = json.loads(cmd[0])  # exec form: no shell needed
        self.assertEqual(argv, ["/usr/bin/dr-exporter",
                                "--config.file=/etc/dr-failover/config.yml"])


if __name__ == "__main__":
    unittest.main()
