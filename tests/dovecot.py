"""A real Dovecot IMAP server for the mail sync tests and bench/bench_mail.py: started in the
foreground (`dovecot -F`, not a daemon) on a free loopback port, with one test user in a
passwd-file and a Maildir under a temporary folder, and stopped afterwards. Debian's
`dovecot-imapd` package provides it; `.ci/run` installs it. Without it, `unavailable()` says why."""

from __future__ import annotations

import imaplib
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
USER, PASSWORD = "sales@ourco.com", "imap-test-password"


def unavailable() -> str | None:
    """Why the IMAP tests cannot run here, or None when they can."""
    if DOVECOT is None:
        return ("Dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it), so the IMAP sync "
                "tests are skipped")
    if not Path("/usr/lib/dovecot/imap").exists():
        return "Dovecot is installed without its IMAP server (apt-get install dovecot-imapd), so the IMAP tests skip"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 0
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    auto = create
    special_use = \\Sent
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    process: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD
    owner: tuple[int, int] = (0, 0)
    own_root: bool = False
    tls_port: int = 0  # IMAPS, when started with tls=True
    ca_file: str | None = None  # the self-signed certificate to trust for it

    @classmethod
    def start(cls, root: Path, *, tls: bool = False) -> Dovecot:
        """Start a server whose files live under `root`. Run as root, Dovecot will not give mail to
        uid 0: the mail then belongs to its own `dovecot` user, in a folder of its own under the
        system's temporary directory (a test's tmp_path is closed to other users)."""
        uid, gid = os.getuid(), os.getgid()
        me = pwd.getpwuid(uid).pw_name
        as_root = uid == 0
        if as_root:
            owner = pwd.getpwnam("dovecot")
            uid, gid = owner.pw_uid, owner.pw_gid
            root = Path(tempfile.mkdtemp(prefix="crm-dovecot-"))
            os.chmod(root, 0o755)
        root.mkdir(parents=True, exist_ok=True)
        for sub in ("run", "state", "mail", "home"):
            (root / sub).mkdir(exist_ok=True)
        if as_root:
            for sub in ("mail", "home"):
                os.chown(root / sub, uid, gid)
        server = cls(root=root, port=_free_port(), owner=(uid, gid), own_root=as_root)
        ssl = "ssl = no"
        if tls:  # a self-signed certificate for 127.0.0.1: STARTTLS on the IMAP port, and IMAPS
            server.tls_port = _free_port()
            cert, key = root / "cert.pem", root / "key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
            server.ca_file = str(cert)
            ssl = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{root}/home::\n")
        (root / "dovecot.conf").write_text(CONFIG.format(
            root=root, port=server.port, uid=uid, gid=gid, ssl=ssl, tls_port=server.tls_port,
            login_user="dovenull" if as_root else me, internal_user="dovecot" if as_root else me,
            internal_group="dovecot" if as_root else grp.getgrgid(gid).gr_name))
        server.process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        server._wait()
        return server

    def give(self, path: Path) -> None:
        """Files written straight into the Maildir belong to the mail's owner."""
        os.chown(path, *self.owner)

    def _wait(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode(errors='replace')} "
                                   f"{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        if self.own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=30)
        client.login(self.user, self.password)
        return client

    def append(self, folder: str, *messages: bytes) -> None:
        """Deliver messages into a folder, over IMAP (APPEND)."""
        client = self.client()
        try:
            for message in messages:
                typ, data = client.append(f'"{folder}"', None, None, message)
                assert typ == "OK", data
        finally:
            client.logout()

    def maildir(self, folder: str = "INBOX") -> Path:
        base = self.root / "mail" / self.user
        return base if folder == "INBOX" else base / f".{folder}"

    def recreate_folder(self, folder: str) -> None:
        """Delete and create a folder again: it gets a new UIDVALIDITY."""
        client = self.client()
        try:
            client.delete(f'"{folder}"')
            client.create(f'"{folder}"')
        finally:
            client.logout()
