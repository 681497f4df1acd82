#!/usr/bin/env python3
"""Every session of a meeting, read with wechatpy -- an existing WeCom SDK from PyPI --
from rollcall instead of WeCom.

The only change from code written for WeCom is where the API lives: wechatpy keeps WeCom's
address in two places (``API_BASE_URL`` for the calls, and a literal in
``fetch_access_token`` for ``gettoken``), so a three-line subclass points both at
``ROLLCALL_BASE_URL``. Token caching, the ``access_token`` query parameter, WeCom's JSON
and error handling are wechatpy's own, untouched.

Usage::

    pip install wechatpy==1.8.18
    export WECOM_CORPID=wwdemo0000000001 WECOM_SECRET=... ROLLCALL_BASE_URL=http://127.0.0.1:8080
    python3 get_attendees.py MEETINGID [--sub-meeting ID] [--limit N]

Prints one JSON object per session (the API's attendee objects, NDJSON) on stdout and a
summary on stderr. Exits 1 with WeCom's errcode and errmsg when the API refuses.
"""

import argparse
import json
import os
import sys

from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

# Unset, this is WeCom itself: the same script works against both.
BASE_URL = os.environ.get("ROLLCALL_BASE_URL", "https://qyapi.weixin.qq.com").rstrip("/")


class Client(WeChatClient):
    """wechatpy's WeCom client, with the base URL changed -- and nothing else."""

    API_BASE_URL = BASE_URL + "/cgi-bin/"

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self.API_BASE_URL + "gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
        )


def attendees(client, meetingid, sub_meetingid=None, limit=100):
    """meeting/get_attendee_list (获取已参会成员列表), following next_cursor to the end."""
    body = {"meetingid": meetingid, "limit": limit}
    if sub_meetingid:
        body["sub_meetingid"] = sub_meetingid
    while True:
        page = client.post("meeting/get_attendee_list", data=body)
        for attendee in page["attendees"]:
            yield attendee
        if not page["has_more"]:
            return
        body["cursor"] = page["next_cursor"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("meetingid")
    parser.add_argument("--sub-meeting", dest="sub_meetingid")
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()

    client = Client(os.environ["WECOM_CORPID"], os.environ["WECOM_SECRET"])
    count, people = 0, set()
    try:
        for a in attendees(client, args.meetingid, args.sub_meetingid, args.limit):
            print(json.dumps(a, ensure_ascii=False), flush=True)
            count += 1
            people.add(a["userid"] or a["tmp_openid"])
    except WeChatClientException as e:
        print("errcode %s: %s" % (e.errcode, e.errmsg), file=sys.stderr)
        return 1
    print("%d sessions, %d people, from %s" % (count, len(people), BASE_URL), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
