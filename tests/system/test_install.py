"""make install and make uninstall (SPEC.md section 1, issue 9).

`make install DESTDIR=TMP PREFIX=...` from the repository, then the tree
it leaves is checked file by file: nothing missing, nothing more, every
mode; the installed programs run; the installed systemd unit starts the
installed daemon; the man pages and examples are the repository's.
`make uninstall` with the same variables takes it all away again.
"""

import os
import re
import stat
import subprocess

import pytest

from conftest import BUILD, REPO

PROGRAMS = ("imapproxyd", "imapproxyctl")
MAN = {"man8": ("proxy/imapproxyd.8", "proxy/imapproxyctl.8"),
       "man5": ("proxy/imapproxy.conf.5", "proxy/imapproxy.routes.5",
                "acl/imapproxy.acl.5")}
EXAMPLES = ("etc/imapproxy.conf", "etc/default.acl", "etc/routes.map")
UNIT = "contrib/imapproxyd.service"


def make(target, destdir, prefix, *more):
    """Runs make TARGET from the repository; the CompletedProcess.

    B names the build under test, so that under IMAPPROXY_BUILD (make
    check-asan) the sanitized programs are the ones installed; -o all
    installs that build as it is, never rebuilding it (with other flags,
    or under a daemon another test is running)."""
    args = ["make", "-s", "-C", str(REPO), "-o", "all", target,
            "DESTDIR=%s" % destdir, "PREFIX=%s" % prefix,
            "B=%s" % os.path.relpath(BUILD, REPO), *more]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, "%s failed (%d):\n%s%s" % (
        " ".join(args), r.returncode, r.stdout, r.stderr)
    return r


def expected_tree(prefix):
    """{path relative to DESTDIR: (mode, repository file or None)}."""
    p = prefix.lstrip("/")
    tree = {}
    for name in PROGRAMS:
        tree["%s/sbin/%s" % (p, name)] = (0o755, None)
    for section, pages in MAN.items():
        for page in pages:
            tree["%s/share/man/%s/%s" % (p, section, os.path.basename(
                page))] = (0o644, page)
    for sample in EXAMPLES:
        tree["%s/share/doc/imapproxy/examples/%s" % (
            p, os.path.basename(sample))] = (0o644, sample)
    tree["%s/lib/systemd/system/imapproxyd.service" % p] = (0o644, None)
    return tree


def installed_tree(destdir):
    """(files, folders) under DESTDIR, as relative paths."""
    files, dirs = set(), set()
    for top, dnames, fnames in os.walk(destdir):
        rel = os.path.relpath(top, destdir)
        for d in dnames:
            dirs.add(os.path.normpath(os.path.join(rel, d)))
        for f in fnames:
            files.add(os.path.normpath(os.path.join(rel, f)))
    return files, dirs


def ancestors(paths):
    out = set()
    for p in paths:
        p = os.path.dirname(p)
        while p:
            out.add(p)
            p = os.path.dirname(p)
    return out


def version():
    m = re.search(r"^VERSION\s*:=\s*(\S+)", (REPO / "Makefile").read_text(),
                  re.M)
    assert m, "no VERSION in the Makefile"
    return m.group(1)


@pytest.mark.parametrize("prefix", ["/usr", "/opt/imapproxy"])
def test_install_tree(tmp_path, prefix):
    dest = tmp_path / "dest"
    make("install", dest, prefix)
    want = expected_tree(prefix)
    files, dirs = installed_tree(dest)
    assert files == set(want), (
        "missing: %s; stray: %s" % (sorted(set(want) - files),
                                    sorted(files - set(want))))
    # No folder that holds nothing installed.
    assert dirs == ancestors(want), sorted(dirs - ancestors(want))

    for rel, (mode, src) in want.items():
        st = os.lstat(dest / rel)
        assert stat.S_ISREG(st.st_mode), rel
        assert stat.S_IMODE(st.st_mode) == mode, (rel, oct(st.st_mode))
        if src is not None:
            assert (dest / rel).read_bytes() == (REPO / src).read_bytes(), \
                "%s is not the repository's %s" % (rel, src)

    # The programs are the build's, and they run.
    sbin = dest / prefix.lstrip("/") / "sbin"
    for name in PROGRAMS:
        assert (sbin / name).read_bytes() == (BUILD / name).read_bytes(), \
            name
    r = subprocess.run([str(sbin / "imapproxyd"), "-v"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "imapproxyd %s" % version(), r.stdout
    libs = dict(l.split(None, 1) for l in lines[1:])
    assert set(libs) == {"OpenSSL", "libev", "inih", "libmaxminddb",
                         "c-ares"}, r.stdout
    for lib, ver in libs.items():
        assert re.search(r"\d", ver), (lib, ver)
    examples = dest / prefix.lstrip("/") / "share/doc/imapproxy/examples"
    r = subprocess.run([str(sbin / "imapproxyctl"), "acl", "check",
                        str(examples / "default.acl")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r

    # The unit: the repository's, its command lines naming the
    # installed daemon.
    unit = dest / prefix.lstrip("/") / "lib/systemd/system/imapproxyd.service"
    ours = (REPO / UNIT).read_text().splitlines()
    theirs = unit.read_text().splitlines()
    assert len(ours) == len(theirs)
    execs = []
    for a, b in zip(ours, theirs):
        if a == b:
            assert not re.match(r"ExecStart\w*=.*/sbin/imapproxyd", b) or \
                prefix == "/usr", b
            continue
        assert re.match(r"ExecStart\w*=", a), (a, b)
        assert a.replace("/usr/sbin/", "%s/sbin/" % prefix) == b, (a, b)
    for line in theirs:
        m = re.match(r"(ExecStart\w*)=[-@:+!]*(\S+)", line)
        if m:
            execs.append((m.group(1), m.group(2)))
    assert sorted(k for k, _ in execs) == ["ExecStart", "ExecStartPre"]
    for _key, path in execs:
        assert path == "%s/sbin/imapproxyd" % prefix, execs
        assert os.path.samefile(dest / path.lstrip("/"),
                                sbin / "imapproxyd")

    make("uninstall", dest, prefix)
    files, _dirs = installed_tree(dest)
    assert files == set(), sorted(files)
    assert not (dest / prefix.lstrip("/") / "share/doc/imapproxy").exists()


def test_install_dirs_overridable(tmp_path):
    """MANDIR, SYSTEMDUNITDIR, SBINDIR and EXAMPLESDIR can be set apart
    from PREFIX (Debian's unit folder is /lib/systemd/system)."""
    dest = tmp_path / "dest"
    make("install", dest, "/usr/local", "MANDIR=/usr/share/man",
         "SYSTEMDUNITDIR=/lib/systemd/system", "SBINDIR=/usr/sbin",
         "EXAMPLESDIR=/usr/share/doc/imapproxy-ex")
    files, _dirs = installed_tree(dest)
    assert files == {
        "usr/sbin/imapproxyd", "usr/sbin/imapproxyctl",
        "usr/share/man/man8/imapproxyd.8", "usr/share/man/man8/imapproxyctl.8",
        "usr/share/man/man5/imapproxy.conf.5",
        "usr/share/man/man5/imapproxy.routes.5",
        "usr/share/man/man5/imapproxy.acl.5",
        "usr/share/doc/imapproxy-ex/imapproxy.conf",
        "usr/share/doc/imapproxy-ex/default.acl",
        "usr/share/doc/imapproxy-ex/routes.map",
        "lib/systemd/system/imapproxyd.service"}, sorted(files)
    unit = (dest / "lib/systemd/system/imapproxyd.service").read_text()
    assert "ExecStart=/usr/sbin/imapproxyd -f" in unit
