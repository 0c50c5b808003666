#!/usr/bin/env python3
"""policy.py - a client of Postfix's policy delegation protocol, for
etrn-policy: the request a test sends and the read of its reply, shared
by tests/faults/lib.sh (policy_ask), tests/faults/lifecycle.py and
tests/security/flood.py.

  request(state, domain)  one request: an ETRN for domain (state ETRN),
                          else a RCPT to u@domain in that state
  read_reply(s)           read from socket s up to the empty line that
                          ends a reply (or EOF); the bytes read
  ask(path, req)          req on a new connection to the unix socket
                          path; the reply, decoded and stripped

usage: policy.py SOCKET STATE DOMAIN   prints the reply (action=...)
"""
import socket
import sys


def request(state, domain):
    req = "request=smtpd_access_policy\nprotocol_state=%s\n" % state
    req += "protocol_name=ESMTP\nclient_address=127.0.0.1\n"
    req += ("etrn_domain=%s\n" % domain if state == "ETRN" else
            "sender=a@example.org\nrecipient=u@%s\n" % domain)
    return (req + "\n").encode()


def read_reply(s):
    data = b""
    while not data.endswith(b"\n\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def ask(path, req, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(req)
        return read_reply(s).decode("utf-8", "replace").strip()
    finally:
        s.close()


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: policy.py SOCKET STATE DOMAIN")
    print(ask(argv[1], request(argv[2], argv[3])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
