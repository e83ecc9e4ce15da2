"""The manual pages: mdoc lint, completeness, rendering.

- each page passes `mandoc -Tlint -W warning` with nothing to say;
- imapproxy.conf(5) documents every key the configuration parser accepts
  (the conf_keys[] table of proxy/conf.c, and the keys of the sample
  etc/imapproxy.conf), each in the section of the file it belongs to,
  and documents no key the parser refuses;
- imapproxyctl(8) documents every stats-socket command of SPEC.md
  section 6 and every command imapproxyctl's own table knows;
- `man -l` renders each page;
- the pages name each other under SEE ALSO and carry the right .Dt.

Nothing here starts a daemon or needs the session's Dovecot.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Every page, by its installed name; the Makefile installs these paths.
PAGES = {
    "imapproxyd.8": REPO / "proxy" / "imapproxyd.8",
    "imapproxyctl.8": REPO / "proxy" / "imapproxyctl.8",
    "imapproxy.conf.5": REPO / "proxy" / "imapproxy.conf.5",
    "imapproxy.routes.5": REPO / "proxy" / "imapproxy.routes.5",
    "imapproxy.acl.5": REPO / "acl" / "imapproxy.acl.5",
}

CONF_C = REPO / "proxy" / "conf.c"
CTL_C = REPO / "proxy" / "imapproxyctl.c"
SAMPLE_CONF = REPO / "etc" / "imapproxy.conf"

# The stats-socket commands of SPEC.md section 6 (its table), and what
# imapproxyctl adds on top of them.
SPEC_COMMANDS = [
    "sessions",
    "stats",
    "backends",
    "backend enable",
    "backend disable",
    "kick",
    "reload",
    "acl test",
    "metrics",
]
CTL_ONLY_COMMANDS = ["who", "acl check"]

# The man page section of imapproxy.conf(5) that documents each
# section of the configuration file.
CONF_SECTIONS = {
    "global": "GLOBAL SETTINGS",
    "server": "SERVER SETTINGS",
    "backend": "BACKEND SETTINGS",
}
# conf_keys[] writes the sections as G, S and B.
CONF_SECT_LETTERS = {"G": "global", "S": "server", "B": "backend"}

# mdoc macros that may appear on an .It line around a command's words.
MDOC_MACROS = {
    "Ar", "Cm", "Ic", "Fl", "Li", "Ns", "No", "Op", "Oo", "Oc", "Pq",
    "Po", "Pc", "Sy", "Em", "Xo", "Xc", "Ql", "Dq", "Va",
}


def page_id(path):
    return path.name


def mdoc_sections(path):
    """{".Sh title": [lines]} of an mdoc source, in order."""
    sections = {}
    current = None
    for line in path.read_text().splitlines():
        m = re.match(r"\.Sh\s+(.*)$", line)
        if m:
            current = m.group(1).strip().strip('"')
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def tag_keys(lines):
    """The first word of every `.It Ic KEY ...` item of some lines."""
    keys = []
    for line in lines:
        m = re.match(r"\.It\s+Ic\s+(\S+)", line)
        if m:
            keys.append(m.group(1))
    return keys


def parser_keys():
    """[(section, key)] from the conf_keys[] table of proxy/conf.c."""
    text = CONF_C.read_text()
    m = re.search(r"conf_keys\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert m, "no conf_keys[] table in %s" % CONF_C
    table = m.group(1)
    found = re.findall(r'K\(\s*"([A-Za-z0-9_]+)"\s*,\s*([GSB])\s*,', table)
    # Every entry of the table must have been understood: a change of
    # its layout must fail here, not pass with fewer keys.
    entries = len(re.findall(r"\{\s*K\(", table))
    assert entries == len(found), (
        "conf_keys[] has %d entries but only %d were parsed; update "
        "parser_keys() in %s" % (entries, len(found), __file__))
    assert len(found) >= 40, found
    return [(CONF_SECT_LETTERS[s], k) for k, s in found]


def sample_keys():
    """[(section, key)] set or shown commented out in etc/imapproxy.conf."""
    keys = []
    section = None
    for line in SAMPLE_CONF.read_text().splitlines():
        m = re.match(r"\s*\[\s*(global|server|backend)\b[^\]]*\]", line)
        if m:
            section = m.group(1)
            continue
        # "key = value", or ";key = value" / "#key = value" for a key
        # shown with its default but left unset.
        m = re.match(r"\s*[;#]?([a-z][a-z0-9_]*)\s*=", line)
        if m and section is not None:
            keys.append((section, m.group(1)))
    return keys


def ctl_table_commands():
    """The commands of ctl_cmds[] in proxy/imapproxyctl.c."""
    text = CTL_C.read_text()
    m = re.search(r"ctl_cmds\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert m, "no ctl_cmds[] table in %s" % CTL_C
    found = re.findall(r'\{\s*"([a-z]+)"\s*,\s*(?:"([a-z]+)"|NULL)\s*,',
                       m.group(1))
    assert len(found) >= 9, found
    return [w if not sub else "%s %s" % (w, sub) for w, sub in found]


def ctl_documented_commands():
    """Word lists that begin each item of COMMANDS in imapproxyctl.8.

    One .It line may document several forms separated by " , ", as in
    `.It Cm backend enable Ar name , Cm backend disable Ar name`.
    """
    lines = mdoc_sections(PAGES["imapproxyctl.8"]).get("COMMANDS")
    assert lines, "imapproxyctl.8 has no COMMANDS section"
    items = []
    for line in lines:
        if not line.startswith(".It "):
            continue
        for alt in line[4:].split(" , "):
            words = [w for w in alt.split() if w not in MDOC_MACROS]
            items.append(words)
    return items


# ---------------------------------------------------------------------
# (a) mandoc -Tlint

def mandoc():
    path = shutil.which("mandoc")
    if path is None:
        pytest.fail("mandoc is not installed (make deps installs it)")
    return path


@pytest.mark.parametrize("path", PAGES.values(), ids=page_id)
def test_mandoc_lint_clean(path):
    assert path.is_file(), "%s is missing" % path
    # mandoc exits 2 on warnings and 3-4 on errors; it also prints them.
    r = subprocess.run([mandoc(), "-Tlint", "-W", "warning", str(path)],
                       capture_output=True, text=True, timeout=30)
    report = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and report == "", (
        "mandoc -Tlint -W warning %s (exit %d):\n%s"
        % (path.relative_to(REPO), r.returncode, report))


def test_mandoc_lint_can_fail(tmp_path):
    """The lint check above notices a warning."""
    bad = tmp_path / "bad.5"
    bad.write_text(".Dd November 23, 2026\n.Dt BAD 5\n.Os\n.Sh NAME\n"
                   ".Nm bad\n.Nd bad page\n.Sh DESCRIPTION\nText.\n\n"
                   "More text.\n")
    r = subprocess.run([mandoc(), "-Tlint", "-W", "warning", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and (r.stdout + r.stderr).strip()


# ---------------------------------------------------------------------
# (b) every configuration key in imapproxy.conf(5)

def conf_page_keys():
    """{section: set of keys} documented in imapproxy.conf.5."""
    sections = mdoc_sections(PAGES["imapproxy.conf.5"])
    out = {}
    for sect, title in CONF_SECTIONS.items():
        assert title in sections, (
            "imapproxy.conf.5 has no .Sh %s section" % title)
        out[sect] = set(tag_keys(sections[title]))
    return out


def test_conf_page_documents_every_parser_key():
    documented = conf_page_keys()
    missing = ["[%s] %s" % (s, k) for s, k in parser_keys()
               if k not in documented[s]]
    assert not missing, (
        "keys accepted by proxy/conf.c but not documented in the matching "
        "section of proxy/imapproxy.conf.5: %s" % ", ".join(missing))


def test_conf_page_documents_every_sample_key():
    keys = sample_keys()
    assert len(keys) >= 30, "too few keys found in %s: %r" % (
        SAMPLE_CONF, keys)
    documented = conf_page_keys()
    missing = sorted({"[%s] %s" % (s, k) for s, k in keys
                      if k not in documented[s]})
    assert not missing, (
        "keys of etc/imapproxy.conf not documented in the matching section "
        "of proxy/imapproxy.conf.5: %s" % ", ".join(missing))


def test_conf_page_documents_no_unknown_key():
    accepted = set(parser_keys())
    stale = sorted("[%s] %s" % (s, k)
                   for s, keys in conf_page_keys().items() for k in keys
                   if (s, k) not in accepted)
    assert not stale, (
        "proxy/imapproxy.conf.5 documents keys proxy/conf.c does not accept "
        "in that section: %s" % ", ".join(stale))


# ---------------------------------------------------------------------
# (c) every stats-socket command in imapproxyctl(8)

@pytest.mark.parametrize("command", SPEC_COMMANDS + CTL_ONLY_COMMANDS)
def test_ctl_page_documents_command(command):
    want = command.split()
    items = ctl_documented_commands()
    assert any(words[:len(want)] == want for words in items), (
        "%r is not an item of COMMANDS in proxy/imapproxyctl.8; items: %r"
        % (command, [" ".join(w) for w in items]))


def test_ctl_page_documents_client_table():
    items = ctl_documented_commands()
    missing = [c for c in ctl_table_commands()
               if not any(w[:len(c.split())] == c.split() for w in items)]
    assert not missing, (
        "commands of ctl_cmds[] in proxy/imapproxyctl.c not documented in "
        "proxy/imapproxyctl.8: %s" % ", ".join(missing))


def test_ctl_page_documents_options():
    text = PAGES["imapproxyctl.8"].read_text()
    for flag in (r"Fl s Ar socket", r"Fl c Ar config", r"Fl \\-json"):
        assert re.search(flag, text), flag
    exit_lines = mdoc_sections(PAGES["imapproxyctl.8"]).get("EXIT STATUS")
    assert exit_lines, "imapproxyctl.8 has no EXIT STATUS section"
    for status in ("0", "1", "2"):
        assert ".It %s" % status in exit_lines, status


# ---------------------------------------------------------------------
# (d) man -l renders each page

@pytest.mark.parametrize("name", PAGES.keys())
def test_man_renders(name):
    path = PAGES[name]
    man = shutil.which("man")
    if man is None:
        pytest.skip("man (man-db) is not installed")
    env = dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat",
               MAN_KEEP_FORMATTING="", LC_ALL="C.UTF-8")
    r = subprocess.run([man, "-l", str(path)], capture_output=True,
                       text=True, env=env, stdin=subprocess.DEVNULL,
                       timeout=60)
    assert r.returncode == 0, "man -l %s: exit %d\n%s" % (
        path, r.returncode, r.stderr)
    out = r.stdout
    assert out.strip(), "man -l %s printed nothing\n%s" % (path, r.stderr)
    assert "NAME" in out and "DESCRIPTION" in out, out[:500]
    assert name.rsplit(".", 1)[0] in out, out[:500]
    # No line wider than MANWIDTH outside literal displays would mean
    # the width was ignored; the header line is always within it.
    assert len(out.splitlines()[0]) <= 80, out.splitlines()[0]


# ---------------------------------------------------------------------
# (e) titles and cross-references

@pytest.mark.parametrize("name", PAGES.keys())
def test_page_title_and_see_also(name):
    path = PAGES[name]
    text = path.read_text()
    base, sect = name.rsplit(".", 1)
    assert re.search(r"^\.Dd November 23, 2026$", text, re.M), "Dd"
    assert re.search(r"^\.Dt %s %s$" % (re.escape(base.upper()), sect),
                     text, re.M), ".Dt %s %s" % (base.upper(), sect)
    assert re.search(r"^\.Nm %s$" % re.escape(base), text, re.M), ".Nm"
    see_also = "\n".join(mdoc_sections(path).get("SEE ALSO", []))
    for other in PAGES:
        if other == name:
            continue
        obase, osect = other.rsplit(".", 1)
        assert re.search(r"\.Xr %s %s\b" % (re.escape(obase), osect),
                         see_also), "%s: SEE ALSO lacks %s(%s)" % (
                             name, obase, osect)
