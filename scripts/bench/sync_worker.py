#!/usr/bin/env python3
"""The "sync worker" from StackOne's observability guide, as the baseline for `make bench-e2e`.

The guide's pattern: remember when the last sync ran, ask GET /requests/logs for everything since then (HTTP Basic
auth, the API key as user name), turn each log into an OTLP log record, POST the records as OTLP/JSON to an
OTLP/HTTP endpoint, remember the new sync time, sleep, repeat. The guide's snippet stops after the first page; this
one follows `next` to the end, which is the least a real deployment needs. Standard library only, written the way
such a script is written: no threads, no clever parsing, one POST per page.

Differences from the guide, forced by the API: the filters are sent as flat query keys (`start_date=`), the form
StackOne's SDKs use, since the bundled fake (like the SDKs' OpenAPI spec) does not take `filter[start_date]=`.

    python3 sync_worker.py --endpoint http://127.0.0.1:8089 --otlp-endpoint http://127.0.0.1:4318 --once
"""

import argparse
import base64
import datetime
import json
import os
import sys
import time
import urllib.parse
import urllib.request

SEVERITY_INFO = 9
SEVERITY_ERROR = 17


def fetch_page(endpoint, api_key, params):
    url = endpoint.rstrip("/") + "/requests/logs?" + urllib.parse.urlencode(params)
    token = base64.b64encode((api_key + ":").encode()).decode()
    req = urllib.request.Request(url, headers={"Authorization": "Basic " + token, "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def unix_nanos(value):
    if not value:
        return "0"
    try:
        dt = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "0"
    return str(int(dt.timestamp() * 1_000_000) * 1000)


def attr(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


# The fields the guide's worker forwards: (attribute, snake_case key, camelCase key).
FIELDS = [
    ("stackone.request_id", "request_id", "requestId"),
    ("stackone.account_id", "account_id", "accountId"),
    ("stackone.project_id", "project_id", "projectId"),
    ("stackone.provider", "provider", "provider"),
    ("stackone.service", "service", "service"),
    ("stackone.resource", "resource", "resource"),
    ("stackone.sub_resource", "sub_resource", "subResource"),
    ("stackone.action", "action", "action"),
    ("stackone.success", "success", "success"),
    ("stackone.duration_ms", "duration", "duration"),
    ("stackone.source_type", "source_type", "sourceType"),
    ("stackone.source_id", "source_id", "sourceId"),
    ("stackone.source_value", "source_value", "sourceValue"),
    ("stackone.is_worker", "is_worker", "isWorker"),
    ("stackone.start_time", "start_time", "startTime"),
    ("stackone.end_time", "end_time", "endTime"),
    ("url.path", "path", "path"),
    ("url.full", "url", "url"),
    ("client.address", "source_ip", "sourceIp"),
    ("http.response.status_code", "status", "status"),
]


def to_log_record(log, observed):
    """One StackOne request log (snake_case or camelCase) as an OTLP/JSON log record."""
    attributes = []
    for name, snake, camel in FIELDS:
        value = log.get(snake, log.get(camel))
        if value is not None:
            attributes.append(attr(name, value))
    method = (log.get("http_method") or log.get("httpMethod") or "").upper()
    attributes.append(attr("http.request.method", method))
    status = log.get("status")
    if isinstance(status, int):
        error = status >= 400
    else:
        error = log.get("success") is False
    when = log.get("event_datetime") or log.get("eventDatetime") or log.get("start_time") or log.get("startTime")
    return {
        "timeUnixNano": unix_nanos(when),
        "observedTimeUnixNano": observed,
        "severityNumber": SEVERITY_ERROR if error else SEVERITY_INFO,
        "severityText": "ERROR" if error else "INFO",
        "body": {"stringValue": method + " " + (log.get("path") or "")},
        "attributes": attributes,
    }


def post_otlp(otlp_endpoint, records):
    payload = {
        "resourceLogs": [{
            "resource": {"attributes": [attr("service.name", "stackone")]},
            "scopeLogs": [{"scope": {"name": "stackone-sync-worker"}, "logRecords": records}],
        }]
    }
    req = urllib.request.Request(
        otlp_endpoint.rstrip("/") + "/v1/logs",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


def sync(args, since):
    """Reads every log since `since`, page by page, and forwards each page. Returns how many logs it sent."""
    params = {"start_date": since, "page_size": args.page_size}
    sent = 0
    while True:
        page = fetch_page(args.endpoint, args.api_key, params)
        logs = page.get("data") or []
        if logs:
            observed = str(time.time_ns())
            post_otlp(args.otlp_endpoint, [to_log_record(log, observed) for log in logs])
            sent += len(logs)
        cursor = page.get("next")
        if not cursor:
            return sent
        params = {"next": cursor, "page_size": args.page_size}


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--endpoint", default="https://api.stackone.com")
    p.add_argument("--api-key", default=os.environ.get("STACKONE_API_KEY", ""))
    p.add_argument("--otlp-endpoint", default="http://localhost:4318")
    p.add_argument("--since", help="first sync starts here (ISO-8601); default: one hour ago")
    p.add_argument("--page-size", type=int, default=100)
    p.add_argument("--interval", type=float, default=30, help="seconds between syncs")
    p.add_argument("--once", action="store_true", help="sync once, to the end, and exit")
    args = p.parse_args()

    last_sync = args.since or iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
    while True:
        started = iso(datetime.datetime.now(datetime.timezone.utc))
        try:
            n = sync(args, last_sync)
            print("synced %d logs since %s" % (n, last_sync), file=sys.stderr)
            last_sync = started
        except Exception as e:  # the guide's worker logs and tries again on the next tick
            print("sync failed: %s" % e, file=sys.stderr)
            if args.once:
                return 1
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
