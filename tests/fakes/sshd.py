"""A real OpenSSH server on loopback, standing in for a PHP-FPM host.

Several "hosts" on one machine would share one file system, so each server
can run in its own mount namespace with its own directory (`fs`) bound at
a common path (`mount_at`): every host then has its own file at the same
absolute path, as real hosts do.

    with Sshd() as host:
        host.port, host.client_key, host.known_hosts, host.root
        host.stop(); host.start()          # "host down", then back

Each instance has its own ed25519 host key, a client key authorized for
root (the tests run as root), and a known_hosts file holding exactly its
host key for [127.0.0.1]:PORT. Files live in a temporary directory
(`root`) that the tests may use as the host's file system too.
"""

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(path)], check=True, stdin=subprocess.DEVNULL)
    return path


class Sshd:
    def __init__(self, port=0, client_key=None, mount_at=None):
        """`client_key`: a private key file to authorize (shared by several
        hosts, as the actuator has one key); default: a new one."""
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="dr-sshd-"))
        self.fs = self.root / "fs"
        self.fs.mkdir()
        self.mount_at = mount_at
        self.port = port or _free_port()
        self.host_key = keygen(self.root / "host_key")
        self.client_key = pathlib.Path(
            client_key or keygen(self.root / "client_key"))
        (self.root / "authorized_keys").write_text(
            pathlib.Path(str(self.client_key) + ".pub").read_text())
        self.known_hosts = self.root / "known_hosts"
        self.write_known_hosts()
        self.config = self.root / "sshd_config"
        self.config.write_text(
            f"ListenAddress 127.0.0.1:{self.port}\n"
            f"HostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.root}/authorized_keys\n"
            f"PidFile {self.root}/sshd.pid\n"
            "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "Subsystem sftp internal-sftp\nLogLevel VERBOSE\n")
        self.proc = None

    def known_hosts_line(self, key_file=None):
        """The known_hosts line trusting `key_file` (default: this server's
        own host key) for this server's address."""
        pub = pathlib.Path(str(key_file or self.host_key) + ".pub")
        kind, blob = pub.read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}\n"

    def write_known_hosts(self, key_file=None):
        self.known_hosts.write_text(self.known_hosts_line(key_file))

    def start(self):
        os.makedirs("/run/sshd", exist_ok=True)
        self.log = open(self.root / "sshd.log", "ab")
        argv = ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.config)]
        if self.mount_at:
            os.makedirs(self.mount_at, exist_ok=True)
            # Also an empty home for the login user (root here): the test
            # machine's own dotfiles (a .bashrc that starts pyenv adds
            # ~130 ms to every command) are not a deployment host's.
            home = self.root / "home"
            home.mkdir(exist_ok=True)
            argv = ["unshare", "--mount", "--propagation", "private", "sh",
                    "-c", 'mount --bind "$1" "$2" && '
                    'mount --bind "$3" "$(getent passwd root | cut -d: -f6)" '
                    '&& shift 3 && exec "$@"',
                    "sh", str(self.fs), str(self.mount_at), str(home), *argv]
        self.proc = subprocess.Popen(
            argv,
            stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd exited: " + (self.root /
                                   "sshd.log").read_text())
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.02)
        raise RuntimeError("sshd did not listen")

    def accepted_logins(self):
        """Connections this server accepted with a key so far."""
        return (self.root / "sshd.log").read_text(
            errors="replace").count("Accepted publickey")

    def kill_sessions(self):
        """SIGKILL to the server's per-connection processes (children of
        the listener, each in a session of its own): every open session dies
        as if the host had gone away."""
        if not self.proc or self.proc.poll() is not None:
            return
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def stop(self):
        """The host goes down: its open sessions and its listener."""
        self.kill_sessions()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
