"""The sample files in etc/ (STYLE.md section 1, issue 9).

etc/imapproxy.conf shows every key the parser knows, and the samples
pass `imapproxyd -t` together: copied into tmp_path, with every
commented-out setting (`;key = value`) turned on, the absolute paths
made relative names of files beside it (the `pki` certificates, the
`geoip` databases, the copied default.acl and routes.map) and the user and
group names at ones this machine has.  Breaking one sample makes the
same check fail with FILE:LINE.
"""

import grp
import os
import pwd
import re
import shutil
import subprocess

import pytest

from conftest import CTL, REPO, daemon_path

ETC = REPO / "etc"
CONF_C = REPO / "proxy" / "conf.c"

# Keys naming a user or group, which must exist for -t.
ACCOUNT_KEYS = ("user", "group", "stats_socket_group")
KEY_LINE = re.compile(r"^(;?)([a-z_]+)(\s*=\s*)(.*?)(\s+[;#].*)?$")


def parser_keys():
    """{"global"|"server"|"backend": {key}} from proxy/conf.c's table."""
    sect = {"G": "global", "S": "server", "B": "backend"}
    keys = dict((s, set()) for s in sect.values())
    for name, s in re.findall(r'\bK\("([a-z_]+)",\s*([GSB]),',
                              CONF_C.read_text()):
        keys[sect[s]].add(name)
    assert all(keys.values()), keys
    return keys


def sample_keys(text):
    """The same, from a sample configuration, commented-out keys too."""
    keys = {"global": set(), "server": set(), "backend": set()}
    where = None
    for line in text.splitlines():
        m = re.match(r"^\[(global|server|backend)\b[^\]]*\]", line)
        if m:
            where = m.group(1)
            continue
        m = KEY_LINE.match(line)
        if m:
            assert where, "key before any section: %r" % line
            keys[where].add(m.group(2))
    return keys


def site_files(pki, geoip):
    """What the sample's absolute paths name, by base name: the files
    made for it here.  A path the sample adds must be added here."""
    org_cert, org_key = pki["org"]
    return {"mail.pem": org_cert, "mail.key": org_key,
            "ca-certificates.crt": pki["other"][0],
            "GeoLite2-Country.mmdb": geoip["country"],
            "GeoLite2-ASN.mmdb": geoip["asn"],
            # written, not read: -t must not need them
            "imapproxyd.pid": None, "stats.sock": None}


# What an operator turns on first: the keys that name files.
FILE_KEYS = ("tls_cert", "acl", "routes", "geoip_db", "tls_ca")


def prepare(tmp_path, pki, geoip, enable=None):
    """Copies etc/ into tmp_path/etc, points the copy of imapproxy.conf
    there and turns on the commented-out keys in ENABLE (None: all of
    them); returns the folder."""
    d = tmp_path / "etc"
    shutil.copytree(ETC, d)
    site = site_files(pki, geoip)
    for name, src in site.items():
        if src is not None:
            shutil.copyfile(src, d / name)
    account = {"user": pwd.getpwuid(os.geteuid()).pw_name,
               "group": grp.getgrgid(os.getegid()).gr_name,
               "stats_socket_group": grp.getgrgid(os.getegid()).gr_name}
    named = set()

    def to_here(m):
        name = os.path.basename(m.group(2))
        named.add(name)
        assert name in site or (d / name).is_file(), \
            "the sample names %s: add it to site_files()" % m.group(2)
        # relative: the conf's folder, whatever the cwd (SPEC 3), and a
        # line as short as the sample's however deep tmp_path is
        return m.group(1) + name

    out = []
    for line in (d / "imapproxy.conf").read_text().splitlines():
        m = KEY_LINE.match(line)
        if m and (not m.group(1) or enable is None or
                  m.group(2) in enable):
            value = re.sub(r"(^|[\s,])(/[^\s,]+)", to_here, m.group(4))
            if m.group(2) in ACCOUNT_KEYS:
                value = account[m.group(2)]
            line = "%s%s%s%s" % (m.group(2), m.group(3), value,
                                 m.group(5) or "")
        out.append(line)
    (d / "imapproxy.conf").write_text("\n".join(out) + "\n")
    if enable is None:
        # Every file kind the sample names is exercised.
        assert named >= {"default.acl", "routes.map", "mail.pem",
                         "mail.key", "GeoLite2-Country.mmdb",
                         "GeoLite2-ASN.mmdb", "ca-certificates.crt"}, named
    return d


def check(conf):
    r = subprocess.run([daemon_path(), "-t", "-c", str(conf)],
                       capture_output=True, text=True, timeout=30,
                       cwd="/")
    return r.returncode, (r.stdout + r.stderr).splitlines()


def test_sample_has_every_key():
    want = parser_keys()
    have = sample_keys((ETC / "imapproxy.conf").read_text())
    for sect in want:
        assert have[sect] == want[sect], (
            "[%s] missing from etc/imapproxy.conf: %s; not in proxy/conf.c:"
            " %s" % (sect, sorted(want[sect] - have[sect]),
                     sorted(have[sect] - want[sect])))


def test_samples_pass_check(tmp_path, pki, geoip):
    d = prepare(tmp_path, pki, geoip)
    text = (d / "imapproxy.conf").read_text()
    assert "\n;" not in "\n" + "\n".join(
        l for l in text.splitlines() if KEY_LINE.match(l)), text
    rc, out = check(d / "imapproxy.conf")
    assert (rc, out) == (0, ["%s: configuration is valid"
                             % (d / "imapproxy.conf")]), "\n".join(out)


@pytest.mark.parametrize("enable", [(), FILE_KEYS], ids=["shipped", "files"])
def test_sample_partly_enabled_passes_check(tmp_path, pki, geoip, enable):
    """As shipped, and with only the file keys turned on: the sample
    routes.map must name back ends and pools the sample defines."""
    d = prepare(tmp_path, pki, geoip, enable=enable)
    rc, out = check(d / "imapproxy.conf")
    assert (rc, out) == (0, ["%s: configuration is valid"
                             % (d / "imapproxy.conf")]), "\n".join(out)


@pytest.mark.parametrize("sample,bad", [
    ("default.acl", "deny net 10.0.0.0/33"),
    ("routes.map", "dave@example.com nosuchstore"),
    ("imapproxy.conf", "no_such_key = 1"),
])
def test_broken_sample_fails_check(tmp_path, pki, geoip, sample, bad):
    d = prepare(tmp_path, pki, geoip)
    path = d / sample
    lines = path.read_text().splitlines()
    if sample == "imapproxy.conf":
        at = lines.index("[global]") + 1
    else:
        at = len(lines)
    lines.insert(at, bad)
    path.write_text("\n".join(lines) + "\n")
    rc, out = check(d / "imapproxy.conf")
    assert rc == 1, out
    where = "%s:%d: " % (path, at + 1)
    assert any(l.startswith(where) for l in out), (where, out)


def test_acl_sample_passes_acl_check():
    r = subprocess.run([str(CTL), "acl", "check", str(ETC / "default.acl")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r
