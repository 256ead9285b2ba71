"""Upload one file through slixmpp's own XEP-0363 implementation.

A third-party client library finding our upload service (disco#items on
the domain, disco#info on each item: identity store/file, feature and
max-file-size form), requesting a slot and PUTting the file, exactly as
its users would. Driven by mediasvc's TestXEP0363 (Go).

usage: xep0363_slixmpp.py JID PASSWORD HOST PORT FILE CONTENT_TYPE [too-large]

Prints the GET URL on success. With "too-large", expects slixmpp to refuse
the file itself from the max-file-size the service announced, and prints
that limit.
"""
import asyncio
import sys

import slixmpp
from slixmpp.plugins.xep_0363.http_upload import FileTooBig


def tasks_for_wait():
    """slixmpp 1.8.3 (Debian 12) hands coroutines to asyncio.wait in its
    disco of a domain's items, which Python 3.11 refuses; wrapping them in
    tasks first is what later slixmpp releases do themselves."""
    wait = asyncio.wait

    async def wait_tasks(aws, *args, **kwargs):
        return await wait([asyncio.ensure_future(a) for a in aws], *args, **kwargs)

    asyncio.wait = wait_tasks


def main():
    tasks_for_wait()
    jid, password, host, port, path, ctype = sys.argv[1:7]
    expect_too_large = len(sys.argv) > 7 and sys.argv[7] == "too-large"
    client = slixmpp.ClientXMPP(jid, password)
    client.register_plugin("xep_0030")
    client.register_plugin("xep_0363")
    # The test server is on the loopback interface without TLS.
    client["feature_mechanisms"].unencrypted_plain = True
    outcome = {"code": 2, "out": "no session"}

    async def run(_event):
        try:
            url = await client["xep_0363"].upload_file(path, content_type=ctype, timeout=20)
            if expect_too_large:
                outcome.update(code=1, out="uploaded although too large: " + url)
            else:
                outcome.update(code=0, out=url)
        except FileTooBig as e:
            if expect_too_large:
                outcome.update(code=0, out=str(client["xep_0363"].max_file_size))
            else:
                outcome.update(code=1, out="FileTooBig: %s" % e)
        except Exception as e:  # reported to the Go test verbatim
            outcome.update(code=1, out="%s: %s" % (type(e).__name__, e))
        client.disconnect()

    def failed(_event):
        outcome.update(code=1, out="login failed")
        client.disconnect()

    client.add_event_handler("session_start", run)
    client.add_event_handler("failed_auth", failed)
    client.connect((host, int(port)), use_ssl=False, disable_starttls=True)
    loop = asyncio.get_event_loop()
    loop.run_until_complete(asyncio.wait_for(client.disconnected, 60))
    print(outcome["out"])
    sys.exit(outcome["code"])


if __name__ == "__main__":
    main()
