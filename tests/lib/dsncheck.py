#!/usr/bin/env python3
"""dsncheck.py - parse DSNs received by a sink with Python's email package.

usage: dsncheck.py FILE...
For each file prints one JSON object per line: the top-level headers of
interest, the report type, the number of parts, the delivery-status
fields (per-message and per-recipient), the type of the returned part,
whether the returned part contains a body or an X-ETRN-Hold header, and
any MIME defects.  Exit status 1 if a file is not a multipart/report.
"""
import email
import email.policy
import json
import sys


def fields(block):
    return {k.lower(): str(v) for k, v in block.items()}


def check(path):
    with open(path, "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    out = {
        "file": path,
        "subject": str(msg.get("Subject", "")),
        "to": str(msg.get("To", "")),
        "message_id": str(msg.get("Message-ID", "")),
        "auto_submitted": str(msg.get("Auto-Submitted", "")),
        "type": msg.get_content_type(),
        "report_type": msg.get_param("report-type") or "",
        "defects": [type(d).__name__ for d in msg.defects],
        "header_names": [k.lower() for k in msg.keys()],
    }
    if not msg.is_multipart():
        out["parts"] = 0
        print(json.dumps(out))
        return False
    parts = msg.get_payload()
    out["parts"] = len(parts)
    out["part_types"] = [p.get_content_type() for p in parts]
    for p in parts:
        out["defects"] += [type(d).__name__ for d in p.defects]
    for p in parts:
        if p.get_content_type() == "message/delivery-status":
            blocks = p.get_payload()
            out["per_message"] = fields(blocks[0])
            out["per_recipient"] = [fields(b) for b in blocks[1:]]
        elif p.get_content_type() in ("text/rfc822-headers",
                                      "message/rfc822"):
            text = p.as_string()
            out["returned_type"] = p.get_content_type()
            out["returned_has_tag"] = "x-etrn-hold" in text.lower()
            out["returned_text"] = text[-2000:]
        elif p.get_content_type() == "text/plain":
            out["human"] = p.get_content()[:2000]
    print(json.dumps(out))
    return msg.get_content_type() == "multipart/report"


def main():
    ok = True
    for path in sys.argv[1:]:
        ok = check(path) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
