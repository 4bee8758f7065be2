"""A real PHP site: nginx in front of php-fpm, on its own address.

    site = PhpSite("127.0.0.11", fs=host.fs).start()
    site.url            # http://127.0.0.11:PORT/health.php
    site.stop_php()     # PHP stops answering (nginx answers 502)
    site.start_php()
    site.reloads()      # graceful php-fpm reloads seen in its log

php-fpm's pid file lives in `fs` (a host's directory, see sshd.py), so a
reload_command run on that host (`kill -USR2 $(cat .../php-fpm.pid)`)
reloads this php-fpm. health.php answers 200 with the AWS_REGION of the
host's .env file, as an application reading its configuration would.

`health_php` replaces that script's text (e.g. with the shipped
examples/php/health.php); `fpm_env` adds `env[NAME] = "value"` lines to
the pool, as an operator's pool configuration would.
"""

import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HEALTH_PHP = r"""<?php
// Reads the host's .env the way the application would, and reports it.
$env = @parse_ini_file(getenv('DR_ENV_FILE') ?: '/dev/null', false,
                       INI_SCANNER_RAW) ?: [];
header('Content-Type: text/plain');
echo "OK region=" . ($env['AWS_REGION'] ?? 'unset') . "\n";
"""


def _free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_listening(host, port, proc, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on {host}:{port}")


class PhpSite:
    def __init__(self, address, fs, env_file=None, health_php=None,
                 fpm_env=None):
        self.fpm_env = dict(fpm_env or {})
        for name, value in self.fpm_env.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or \
                    re.search(r'["\\$\n]', value):
                raise ValueError(f"cannot write env[{name}] to a pool config")
        self.address = address
        self.fs = pathlib.Path(fs)
        self.env_file = env_file or str(self.fs / "app" / ".env")
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="dr-php-"))
        # php-fpm's workers run as www-data: let them read the script and
        # the host's .env (temporary directories are 0700).
        for d in (self.dir, self.fs, self.fs.parent, self.fs / "app"):
            if d.exists():
                os.chmod(d, 0o755)
        self.www = self.dir / "www"
        self.www.mkdir()
        (self.www / "health.php").write_text(health_php or HEALTH_PHP)
        self.port = _free_port(address)
        self.fpm_port = _free_port()
        self.pid_file = self.fs / "php-fpm.pid"
        self.fpm_log = self.fs / "php-fpm.log"
        self.fpm = None
        self.nginx = None

    @property
    def url(self):
        return f"http://{self.address}:{self.port}/health.php"

    def start(self):
        self.start_php()
        conf = self.dir / "nginx.conf"
        conf.write_text(f"""
daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {self.dir}/tmp;
  fastcgi_temp_path {self.dir}/tmp;
  proxy_temp_path {self.dir}/tmp;
  uwsgi_temp_path {self.dir}/tmp;
  scgi_temp_path {self.dir}/tmp;
  server {{
    listen {self.address}:{self.port};
    root {self.www};
    location ~ \\.php$ {{
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_pass 127.0.0.1:{self.fpm_port};
      fastcgi_connect_timeout 1s;
    }}
  }}
}}
""")
        (self.dir / "tmp").mkdir(exist_ok=True)
        self.nginx = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(self.dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        _wait_listening(self.address, self.port, self.nginx, "nginx")
        return self

    def start_php(self):
        """Starts php-fpm; does nothing while it runs (a second master would
        fail to bind, and the first would be left running untracked)."""
        if self.fpm and self.fpm.poll() is None:
            return
        conf = self.dir / "php-fpm.conf"
        conf.write_text(f"""
[global]
pid = {self.pid_file}
error_log = {self.fpm_log}
daemonize = no
[www]
user = www-data
group = www-data
listen = 127.0.0.1:{self.fpm_port}
pm = static
pm.max_children = 2
clear_env = no
env[DR_ENV_FILE] = {self.env_file}
""" + "".join(f'env[{name}] = "{value}"\n'
              for name, value in self.fpm_env.items()))
        # A restart right after a kill can find the port still held by
        # dying workers (php-fpm then exits 78): try again briefly.
        for attempt in range(50):
            # Its own process group: stopping PHP must take the workers too.
            self.fpm = subprocess.Popen(
                ["php-fpm8.2", "-F", "-y", str(conf)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                _wait_listening("127.0.0.1", self.fpm_port, self.fpm,
                                "php-fpm")
                return
            except RuntimeError:
                if self.fpm.poll() is None or attempt == 49:
                    raise
                time.sleep(0.1)

    def stop_php(self):
        if self.fpm and self.fpm.poll() is None:
            os.killpg(self.fpm.pid, signal.SIGKILL)
            self.fpm.wait()
        self.fpm = None

    def reloads(self):
        """How many graceful reloads php-fpm logged."""
        try:
            return self.fpm_log.read_text().count("Reloading in progress")
        except FileNotFoundError:
            return 0

    def stop(self):
        self.stop_php()
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
