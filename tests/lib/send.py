#!/usr/bin/env python3
"""send.py - an SMTP client for tests that need what swaks lacks:
DSN parameters (RET, ENVID, NOTIFY, ORCPT), SMTPUTF8 and many recipients.

usage: send.py --port PORT --from ADDR --to 'ADDR [NOTIFY=...] [ORCPT=...]'
               [--to ...] [--mail-opt RET=HDRS] [--header 'Name: value']
               [--body TEXT] [--smtputf8]
Exit status: 0 accepted, 4 temporary failure, 5 permanent failure,
1 other error.  The server's reply is printed on stdout.
"""
import argparse
import smtplib
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--from", dest="sender", required=True)
    ap.add_argument("--to", action="append", required=True)
    ap.add_argument("--mail-opt", action="append", default=[])
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--body", default="test body\n")
    ap.add_argument("--smtputf8", action="store_true")
    a = ap.parse_args()

    headers = list(a.header)
    if not any(h.lower().startswith("subject:") for h in headers):
        headers.append("Subject: test")
    text = "\r\n".join(headers) + "\r\n\r\n" + a.body.replace("\n", "\r\n")
    data = text.encode("utf-8")
    mail_opts = list(a.mail_opt) + (["SMTPUTF8"] if a.smtputf8 else [])
    try:
        s = smtplib.SMTP(a.host, a.port, local_hostname="client.test",
                         timeout=60)
        if a.smtputf8:
            s.command_encoding = "utf-8"
        s.ehlo()
        code, msg = s.mail(a.sender, mail_opts)
        if code >= 400:
            raise smtplib.SMTPResponseException(code, msg)
        accepted = 0
        for spec in a.to:
            parts = spec.split()
            code, msg = s.rcpt(parts[0], parts[1:])
            print("RCPT %s: %d %s" % (parts[0], code,
                                      msg.decode("utf-8", "replace")))
            if code < 400:
                accepted += 1
            last_rcpt = (code, msg)
        if accepted == 0:
            raise smtplib.SMTPResponseException(*last_rcpt)
        code, msg = s.data(data)
        print("%d %s" % (code, msg.decode("utf-8", "replace")))
        s.quit()
        if code >= 400:
            return 4 if code < 500 else 5
        return 0
    except smtplib.SMTPResponseException as e:
        print("%d %s" % (e.smtp_code, e.smtp_error.decode("utf-8",
                                                          "replace")))
        return 4 if e.smtp_code < 500 else 5
    except (OSError, smtplib.SMTPException) as e:
        print("error: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
