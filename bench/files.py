"""Uploading and downloading a large file, on both storage backends, over real HTTP on loopback.

    python -m bench.files [--size-mb 100] [--backend local|s3|both]

For each backend, serves the app with uvicorn (one worker, SQLite in a temporary directory;
files in a temporary folder, or in S3 on moto's standalone server started in a process of its
own), then from this process sends one file of `--size-mb` MB as a multipart fileUpload and
downloads it again from /files/<id>, both streamed, and checks its SHA-256. Prints each
direction's throughput and the server's peak RSS growth during it (the peak resident memory,
reset before each transfer through /proc/<pid>/clear_refs, minus the memory in use when the
transfer starts). The target is under 32 MB: nothing may hold the file whole.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from bench.servers import HOST, BenchError, Server, free_port, migrate, sqlite_url, start_server

MB = 1_000_000
CHUNK = 1024 * 1024
BUCKET = "crm-bench"
AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) {
  token userErrors { message } } }"""
CATEGORY = """mutation { categoryCreate(input: {key: "customers", name: "Customers"}) {
  category { id } userErrors { message } } }"""
CARD = """mutation($input: ContactCreateInput!) { contactCreate(input: $input) {
  contact { id } userErrors { message } } }"""
UPLOAD = """mutation($input: FileUploadInput!) { fileUpload(input: $input) {
  file { id size sha256 } userErrors { message } } }"""


@dataclass(frozen=True)
class Transfer:
    seconds: float
    size: int
    peak_growth_mib: float

    @property
    def mb_per_second(self) -> float:
        return self.size / MB / self.seconds


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {field}")


def _reset_peak(pid: int) -> int:
    """Start counting the peak afresh; the memory in use now (KiB)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _rss_kib(pid, "VmRSS")


def _pattern(size: int) -> Iterator[bytes]:
    block = bytes(range(256)) * (CHUNK // 256)
    sent = 0
    while sent < size:
        piece = block[: min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece


def _call(
    client: httpx.Client, url: str, query: str, variables: Any = None, token: str = ""
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = client.post(url, json={"query": query, "variables": variables or {}}, headers=headers)
    data = body.json()
    if data.get("errors"):
        raise BenchError(f"{data['errors'][0]['message']}")
    (payload,) = data["data"].values()
    if payload.get("userErrors"):
        raise BenchError(payload["userErrors"][0]["message"])
    return payload


def _upload(client: httpx.Client, server: Server, token: str, card: str, size: int) -> str:
    boundary = uuid.uuid4().hex
    operations = {"query": UPLOAD, "variables": {"input": {"contactId": card, "file": None}}}
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f"{json.dumps(operations)}\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        f'{{"0": ["variables.input.file"]}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _pattern(size)
        yield tail

    response = client.post(
        server.url,
        content=body(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
            "GraphQL-Require-Preflight": "1",
            "Authorization": f"Bearer {token}",
        },
    )
    data = response.json()
    if response.status_code != 200 or data.get("errors"):
        raise BenchError(f"The upload failed ({response.status_code}): {response.text[:500]}")
    payload = data["data"]["fileUpload"]
    if payload["userErrors"]:
        raise BenchError(payload["userErrors"][0]["message"])
    file_id: str = payload["file"]["id"]
    return file_id


def _download(client: httpx.Client, server: Server, token: str, file_id: str) -> tuple[int, str]:
    sha256 = hashlib.sha256()
    size = 0
    url = f"http://{HOST}:{server.port}/files/{file_id}"
    with client.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
        if response.status_code != 200:
            raise BenchError(f"The download failed ({response.status_code})")
        for chunk in response.iter_bytes(CHUNK):
            sha256.update(chunk)
            size += len(chunk)
    return size, sha256.hexdigest()


def _measure(server: Server, work: Any) -> tuple[Any, float, float]:
    """Run `work`; its result, seconds, and the server's peak RSS growth in MiB."""
    pid = server.process.pid
    before = _reset_peak(pid)
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    return result, seconds, (_rss_kib(pid, "VmHWM") - before) / 1024


def bench_backend(name: str, size: int, directory: Path, storage: dict[str, str]) -> None:
    database = sqlite_url(directory)
    migrate(database)
    settings = {**storage, "CRM_MAX_UPLOAD_BYTES": str(size + MB)}
    server = start_server(f"files-{name}", "server:create_app", database, directory, settings)
    try:
        with httpx.Client(trust_env=False, timeout=600) as client:
            credentials = {"email": "b@example.com", "password": "benchmark pw", "name": "B"}
            token = _call(client, server.url, SIGN_UP, {"input": credentials})["token"]
            category = _call(client, server.url, CATEGORY, token=token)["category"]["id"]
            card_input = {"input": {"categoryId": category, "name": "Acme"}}
            card = _call(client, server.url, CARD, card_input, token=token)["contact"]["id"]
            # Warm up: the first transfer loads what uploads and downloads use.
            warm = _upload(client, server, token, card, 2 * CHUNK)
            _download(client, server, token, warm)

            file_id, up_seconds, up_growth = _measure(
                server, lambda: _upload(client, server, token, card, size)
            )
            (got, digest), down_seconds, down_growth = _measure(
                server, lambda: _download(client, server, token, file_id)
            )
        expected = hashlib.sha256(b"".join(_pattern(size))).hexdigest()
        if (got, digest) != (size, expected):
            raise BenchError(f"The download came back different ({got} bytes)")
        for direction, seconds, growth in (
            ("upload", up_seconds, up_growth),
            ("download", down_seconds, down_growth),
        ):
            transfer = Transfer(seconds, size, growth)
            verdict = "ok" if growth < 32 else "OVER the 32 MB target"
            print(
                f"  {name:5} {direction:8} {transfer.mb_per_second:7.1f} MB/s "
                f"({seconds:5.2f} s)   peak RSS growth {growth:5.1f} MiB ({verdict})"
            )
    except BenchError:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()


@contextmanager
def moto_server(directory: Path) -> Iterator[str]:
    """moto's standalone S3 server in a process of its own, with one bucket; its URL."""
    port = free_port()
    log = (directory / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **AWS},
    )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise BenchError("moto's S3 server did not start") from None
                time.sleep(0.1)
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=url,
            aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
            region_name=AWS["AWS_DEFAULT_REGION"],
        )
        client.create_bucket(Bucket=BUCKET)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.files")
    parser.add_argument("--size-mb", type=int, default=100, help="size of the file in MB (100)")
    parser.add_argument("--backend", default="both", choices=("local", "s3", "both"))
    args = parser.parse_args(argv)
    size = args.size_mb * MB
    print(f"A {args.size_mb} MB file up (multipart fileUpload) and down (/files/<id>), one worker")
    try:
        with tempfile.TemporaryDirectory(prefix="crm-bench-files-") as temporary:
            root = Path(temporary)
            if args.backend in ("local", "both"):
                (root / "local").mkdir()
                storage = {"CRM_STORAGE_URL": f"file:{root / 'local' / 'files'}"}
                bench_backend("local", size, root / "local", storage)
            if args.backend in ("s3", "both"):
                (root / "s3").mkdir()
                with moto_server(root / "s3") as endpoint:
                    storage = {
                        "CRM_STORAGE_URL": f"s3://{BUCKET}/files",
                        "CRM_S3_ENDPOINT_URL": endpoint,
                        **AWS,
                    }
                    bench_backend("s3", size, root / "s3", storage)
    except BenchError as exc:
        print(f"bench.files: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
