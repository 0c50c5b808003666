#!/usr/bin/env python3
"""etrn.py - send ETRN commands and print the server's replies.

usage: etrn.py PORT ARG [ARG...]   (each ARG is sent as "ETRN ARG";
                                    "-" sends a bare "ETRN")
Prints one reply line per command ("253 OK, ..."); the EHLO reply and the
greeting are not printed.  Exit 1 if the connection fails.
(swaks has no ETRN command; fetchmail --protocol ETRN is the real-world
client the integration tests also use.)
"""
import smtplib
import sys


def main():
    port = int(sys.argv[1])
    try:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="customer.test",
                         timeout=30)
        s.ehlo()
        for arg in sys.argv[2:]:
            code, msg = s.docmd("ETRN" if arg == "-" else "ETRN " + arg)
            print("%d %s" % (code, msg.decode("utf-8", "replace")))
        s.quit()
    except (OSError, smtplib.SMTPException) as e:
        print("error: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
