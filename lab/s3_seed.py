"""Seed the lab's S3 (SeaweedFS) with a bucket and a recent database backup.

Run by lab.sh with the lab venv's python. Reads its settings from the
environment: LAB_S3_ENDPOINT, LAB_S3_ACCESS_KEY, LAB_S3_SECRET_KEY,
LAB_S3_BUCKET, LAB_S3_PREFIX. Idempotent: uploads a new
`<prefix>shop-<UTC timestamp>.sql.gz` only when the newest object under the
prefix is missing or older than LAB_S3_REFRESH_HOURS (default 12), so a lab
left up for days keeps a fresh backup, and a warm `lab.sh up` uploads nothing.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import random
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def fake_dump(now: dt.datetime) -> bytes:
    rng = random.Random(now.timestamp())
    lines = [
        "-- PostgreSQL database dump (warroom lab)",
        f"-- Dumped at {now.isoformat()}",
        "CREATE TABLE orders (id integer PRIMARY KEY, customer text, total numeric);",
        "COPY orders (id, customer, total) FROM stdin;",
    ]
    for i in range(1, 400):
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))
        lines.append(f"{i}\t{name}\t{rng.randint(100, 99999) / 100:.2f}")
    lines += ["\\.", "-- dump complete", ""]
    return gzip.compress("\n".join(lines).encode())


def main() -> int:
    env = os.environ
    bucket = env.get("LAB_S3_BUCKET", "backups")
    prefix = env.get("LAB_S3_PREFIX", "db/")
    refresh = dt.timedelta(hours=float(env.get("LAB_S3_REFRESH_HOURS", "12")))
    s3 = boto3.client(
        "s3",
        endpoint_url=env["LAB_S3_ENDPOINT"],
        aws_access_key_id=env["LAB_S3_ACCESS_KEY"],
        aws_secret_access_key=env["LAB_S3_SECRET_KEY"],
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 2}, connect_timeout=3, read_timeout=10),
    )
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    newest = max((o["LastModified"] for o in listing.get("Contents", [])), default=None)
    now = dt.datetime.now(dt.UTC)
    if newest is not None and now - newest < refresh:
        return 0
    key = f"{prefix}shop-{now:%Y%m%dT%H%M%SZ}.sql.gz"
    body = fake_dump(now)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/gzip")
    print(f"uploaded s3://{bucket}/{key} ({len(body)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
