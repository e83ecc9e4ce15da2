"""imapproxyd's command line: -t, -v, exit statuses (SPEC.md section 2)."""

import grp
import os
import pwd
import re
import socket
import subprocess

import pytest

from conftest import HOST, Proxy, daemon_path, login_ok, store_backend
import dovecot as dv


def run(*args, timeout=10):
    return subprocess.run([daemon_path(), *args], capture_output=True,
                          text=True, timeout=timeout)


def good_config(tmp_path, dovecot, pki):
    p = Proxy(tmp_path, {"store": store_backend(dovecot)},
              certs_=[pki["org"], pki["net"]])
    p.write_config()
    return p


def test_version():
    r = run("-v")
    assert r.returncode == 0, r
    out = (r.stdout + r.stderr).lower()
    assert "imapproxyd" in out
    assert re.search(r"\d+\.\d+", out)
    # the linked libraries, with their versions
    assert re.search(r"openssl \d+\.\d+", out), out
    assert "libev" in out, out


def test_check_good_config_binds_nothing(tmp_path, dovecot, pki):
    p = good_config(tmp_path, dovecot, pki)
    r = run("-t", "-c", str(p.conf))
    assert r.returncode == 0, (r.stdout, r.stderr)
    # -t binds nothing: every configured port is still free
    for name, port in p.ports.items():
        with socket.socket() as s:
            s.bind((HOST, port))


def test_check_reports_every_error_with_file_and_line(tmp_path, dovecot):
    conf = tmp_path / "imapproxy.conf"
    conf.write_text(
        "[global]\n"                                    # 1
        "workers = 2\n"                                 # 2
        "no_such_key = 1\n"                             # 3
        "\n"                                            # 4
        "[server default]\n"                            # 5
        "listen = 127.0.0.1:70000\n"                    # 6
        "login_timeout = soon\n"                        # 7
        "\n"                                            # 8
        "[backend store]\n"                             # 9
        "address = 127.0.0.1:%d\n"                      # 10
        "tls = maybe\n" % dovecot.port)                 # 11
    r = run("-t", "-c", str(conf))
    assert r.returncode == 1, (r.stdout, r.stderr)
    out = r.stdout + r.stderr
    for line in (3, 6, 7, 11):
        assert re.search(r"imapproxy\.conf:%d: " % line, out), \
            "no error for line %d in:\n%s" % (line, out)
    # nothing reported against the good lines
    for line in (2, 10):
        assert not re.search(r"imapproxy\.conf:%d: " % line, out), out


def test_check_unknown_section(tmp_path, dovecot):
    conf = tmp_path / "imapproxy.conf"
    conf.write_text(
        "[server default]\n"
        "listen = 127.0.0.1:%d\n"
        "[bogus]\n"
        "x = 1\n"
        "[backend store]\n"
        "address = 127.0.0.1:%d\n" % (dv.free_port(), dovecot.port))
    r = run("-t", "-c", str(conf))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(r"imapproxy\.conf:3: ", r.stdout + r.stderr), r


def test_check_missing_certificate_file(tmp_path, dovecot, pki):
    p = good_config(tmp_path, dovecot, pki)
    text = p.conf.read_text().replace(
        pki["net"][1], str(tmp_path / "missing.key"))
    p.conf.write_text(text)
    lineno = [i for i, l in enumerate(text.splitlines(), 1)
              if "missing.key" in l][0]
    r = run("-t", "-c", str(p.conf))
    assert r.returncode == 1, (r.stdout, r.stderr)
    out = r.stdout + r.stderr
    assert "missing.key" in out, out
    assert re.search(r"imapproxy\.conf:%d: " % lineno, out), out


def test_check_missing_config_file(tmp_path):
    r = run("-t", "-c", str(tmp_path / "nope.conf"))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "nope.conf" in r.stdout + r.stderr


def test_bad_config_without_t_exits_1(tmp_path, dovecot):
    conf = tmp_path / "imapproxy.conf"
    conf.write_text("[server default]\nlisten = 127.0.0.1:%d\n"
                    "frobnicate = yes\n[backend store]\naddress = "
                    "127.0.0.1:%d\n" % (dv.free_port(), dovecot.port))
    r = run("-f", "-c", str(conf))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(r"imapproxy\.conf:3: ", r.stdout + r.stderr), r


def test_cannot_bind_exits_2(tmp_path, dovecot, pki):
    p = good_config(tmp_path, dovecot, pki)
    # occupy the plain listener's port
    with socket.socket() as s:
        s.bind((HOST, p.ports["plain"]))
        s.listen(1)
        r = run("-f", "-c", str(p.conf))
    assert r.returncode == 2, (r.stdout, r.stderr)


def proc_ids(pid):
    """(real uid, real gid) of a process, from /proc."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid"):
                ids[key] = [int(v) for v in value.split()]
    return ids["Uid"], ids["Gid"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop from")
def test_drops_privileges_after_binding(make_proxy, user):
    """user/group: started as root, the daemon binds, then runs as that
    user and group (real, effective and saved ids) and still serves."""
    nobody = pwd.getpwnam("nobody")
    nogroup = grp.getgrgid(nobody.pw_gid)
    p = make_proxy(global_={"user": "nobody", "group": nogroup.gr_name})
    uids, gids = proc_ids(p.pid)
    assert uids[:3] == [nobody.pw_uid] * 3, uids
    assert gids[:3] == [nogroup.gr_gid] * 3, gids
    name, pw = user
    c = p.client("plain")
    login_ok(c, name, pw)
    c.close()


def test_unknown_user_or_group_is_a_config_error(tmp_path, dovecot, pki):
    """-t and startup refuse a user or group that does not exist, with
    FILE:LINE, before binding anything."""
    p = good_config(tmp_path, dovecot, pki)
    text = p.conf.read_text().replace(
        "[global]", "[global]\nuser = no-such-user-x\ngroup = no-such-grp-x", 1)
    p.conf.write_text(text)
    lines = text.splitlines()
    uline = lines.index("user = no-such-user-x") + 1
    for args in (["-t"], ["-f"]):
        r = run(*args, "-c", str(p.conf))
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert '%s:%d: [global] user: no such user "no-such-user-x"' % (
            p.conf, uline) in r.stderr, r.stderr
        assert '%s:%d: [global] group: no such group "no-such-grp-x"' % (
            p.conf, uline + 1) in r.stderr, r.stderr
