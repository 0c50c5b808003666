#!/usr/bin/python3
# flush-send.py - ask Postfix's flush service to deliver queue files by ID,
# as "postqueue -i ID" does, one request a connection (the flush server
# serves one), without a process per ID.
#
#   flush-send.py QUEUE_DIRECTORY < ids
#
# The protocol is Postfix's attribute protocol (attr_print0): the server
# announces "protocol" "queue_flush_protocol"; the client sends "request"
# "send_file" "queue_id" ID, each string ended by a NUL, the list by an
# empty string; the reply is "status" N.  Exit 1 if a reply is not 0.
import socket
import sys


def attrs(sock):
    """Read one attribute list (name, value, ..., empty) into a dict."""
    data = b""
    while not data.endswith(b"\0\0") or data.count(b"\0") % 2 == 0:
        chunk = sock.recv(512)
        if not chunk:
            raise OSError("flush service closed the connection")
        data += chunk
    items = data[:-2].split(b"\0")
    return dict(zip(items[0::2], items[1::2]))


def send_file(path, qid):
    """One send_file request; the status the server gives."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        attrs(sock)
        sock.sendall(b"request\0send_file\0queue_id\0" + qid.encode() +
                     b"\0\0")
        return attrs(sock).get(b"status")


def main():
    path = sys.argv[1] + "/public/flush"
    bad = 0
    for line in sys.stdin:
        qid = line.strip()
        if qid and send_file(path, qid) != b"0":
            bad += 1
    sys.exit(1 if bad else 0)


main()
