#!/usr/bin/python3
"""Build the benchmark mail store: one Maildir INBOX per user, SMALL small messages and
one big message each.  The message files are written once and hard-linked into every
user's Maildir (Maildir files are immutable), so 1000 users cost one big file on disk.

Messages use CRLF line ends and carry ,S=<size>,W=<size> in their names so Dovecot
neither rewrites line ends nor reads a whole file to learn its size.

usage: mkmail.py MAILROOT USERS SMALL BIG_MIB
"""
import base64
import os
import random
import sys


def small_message(i):
    body = "".join(f"Line {n} of test message {i}: the quick brown fox jumps over the lazy dog.\r\n"
                   for n in range(20))
    return (f"From: sender{i}@imapbench.localhost\r\n"
            f"To: rcpt@imapbench.localhost\r\n"
            f"Subject: small test message {i}\r\n"
            f"Date: Mon, 1 Jan 2024 00:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <small{i}@imapbench.localhost>\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body).encode()


def big_message(mib):
    """About mib MiB: headers and base64 lines of 76 chars + CRLF (incompressible)."""
    rnd = random.Random(1234)
    target = mib * 1024 * 1024
    header = ("From: big@imapbench.localhost\r\nTo: rcpt@imapbench.localhost\r\n"
              "Subject: big test message\r\nDate: Mon, 1 Jan 2024 01:00:00 +0000\r\n"
              "Message-ID: <big@imapbench.localhost>\r\nMIME-Version: 1.0\r\n"
              "Content-Type: application/octet-stream\r\n"
              "Content-Transfer-Encoding: base64\r\n\r\n").encode()
    raw_per_line = 57                     # 57 raw bytes -> 76 base64 chars
    lines_needed = (target - len(header)) // 78
    chunk_lines = 4096
    out = [header]
    done = 0
    while done < lines_needed:
        n = min(chunk_lines, lines_needed - done)
        raw = rnd.randbytes(raw_per_line * n)
        enc = base64.b64encode(raw)
        out.append(b"".join(enc[k * 76:(k + 1) * 76] + b"\r\n" for k in range(n)))
        done += n
    return b"".join(out)


def main():
    root, users, small, big_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    tmpl = os.path.join(root, ".template")
    os.makedirs(tmpl, exist_ok=True)
    names = []
    msgs = [small_message(i) for i in range(1, small + 1)]
    if big_mib > 0:
        msgs.append(big_message(big_mib))
    for i, data in enumerate(msgs, 1):
        # cur/ name: <time>.<unique>.<host>,S=<size>,W=<vsize>:2,<flags>
        name = f"{1704067200 + i}.M{i}P1.imapbench,S={len(data)},W={len(data)}:2,"
        with open(os.path.join(tmpl, name), "wb") as f:
            f.write(data)
        names.append(name)
    for u in range(1, users + 1):
        md = os.path.join(root, f"user{u:04d}", "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub), exist_ok=True)
        for name in names:
            dst = os.path.join(md, "cur", name)
            if not os.path.exists(dst):
                os.link(os.path.join(tmpl, name), dst)
    big = len(msgs[-1]) if big_mib > 0 else 0
    print(f"mail store: {users} users, {len(names)} messages each, big message {big} bytes")


if __name__ == "__main__":
    main()
