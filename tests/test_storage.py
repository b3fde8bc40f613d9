"""Both storage backends through the same tests: a local folder in a temporary directory, and S3
against moto's standalone server on loopback. Streams go in and out in chunks, sizes are
bounded, failures leave nothing stored, keys cannot leave the folder, outages say so."""

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from services.settings import Settings
from services.storage import (
    InvalidKeyError,
    ObjectMissingError,
    ObjectTooLargeError,
    Storage,
    StorageUnavailableError,
    connect_storage,
    content_disposition,
)
from services.storage.local import LocalStorage
from tests.s3 import BUCKET, S3Server, aws_environment, closed_port, running_s3_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)

MiB = 1024 * 1024


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with aws_environment(), running_s3_server() as server:
        yield server


# What is stored: the names of the objects under the test's folder or prefix.
Listing = Callable[[], list[str]]


@pytest.fixture(params=["local", "s3"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Storage, Listing]]:
    if request.param == "local":
        folder = tmp_path / "files"
        storage = await connect_storage(Settings(storage_url=f"file:{folder}"))

        def listing() -> list[str]:
            found = folder.rglob("*") if folder.exists() else iter(())
            return sorted(str(p.relative_to(folder)) for p in found if p.is_file())

    else:
        server: S3Server = request.getfixturevalue("s3_server")
        prefix = f"t{uuid.uuid4().hex[:8]}"
        storage = await connect_storage(
            Settings(storage_url=f"s3://{BUCKET}/{prefix}", s3_endpoint_url=server.endpoint_url)
        )

        def listing() -> list[str]:
            return [key.removeprefix(f"{prefix}/") for key in server.keys(prefix)]

    try:
        yield storage, listing
    finally:
        await storage.close()


async def stream(data: bytes, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


async def read_all(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    reader = await storage.open(key, start, end)
    try:
        return b"".join([chunk async for chunk in reader.chunks()])
    finally:
        await reader.close()


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


@pytest.mark.parametrize("size", [1, 1000, 9 * MiB + 17], ids=["one byte", "small", "multipart"])
async def test_a_stream_goes_in_and_comes_out_whole(
    backend: tuple[Storage, Listing], size: int
) -> None:
    storage, listing = backend
    data = pattern(size)
    stored = await storage.put("files/ab/one", stream(data), max_size=10 * MiB)
    assert (stored.size, stored.sha256) == (size, hashlib.sha256(data).hexdigest())
    assert await storage.size("files/ab/one") == size
    assert await read_all(storage, "files/ab/one") == data
    assert await storage.digest("files/ab/one") == stored
    assert listing() == ["files/ab/one"]


async def test_a_byte_range_is_read_alone(backend: tuple[Storage, Listing]) -> None:
    storage, _ = backend
    data = pattern(600_000)
    await storage.put("files/range", stream(data), max_size=MiB)
    assert await read_all(storage, "files/range", 10, 20) == data[10:20]
    assert await read_all(storage, "files/range", 599_990) == data[599_990:]
    reader = await storage.open("files/range", 1000, 400_000)
    assert reader.length == 399_000
    await reader.close()


@pytest.mark.parametrize("size", [MiB + 1, 9 * MiB], ids=["one part", "multipart"])
async def test_a_stream_over_the_limit_is_refused_and_leaves_nothing(
    backend: tuple[Storage, Listing], size: int
) -> None:
    storage, listing = backend
    with pytest.raises(ObjectTooLargeError):
        await storage.put("files/big", stream(pattern(size)), max_size=MiB)
    assert listing() == []
    assert await storage.size("files/big") is None


async def test_a_stream_that_fails_midway_leaves_nothing(backend: tuple[Storage, Listing]) -> None:
    storage, listing = backend

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(150):  # past one S3 part
            yield b"x" * 64 * 1024
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await storage.put("files/broken", broken(), max_size=100 * MiB)
    assert listing() == []


async def test_delete_copy_and_missing_objects(backend: tuple[Storage, Listing]) -> None:
    storage, listing = backend
    await storage.put("uploads/a", stream(b"hello"), max_size=MiB)
    await storage.copy("uploads/a", "files/a")
    await storage.delete("uploads/a")
    await storage.delete("uploads/a")  # twice is fine
    assert listing() == ["files/a"]
    assert await read_all(storage, "files/a") == b"hello"
    assert await storage.size("files/none") is None
    with pytest.raises(ObjectMissingError):
        await storage.open("files/none")
    with pytest.raises(ObjectMissingError):
        await storage.digest("files/none")


@pytest.mark.parametrize(
    "key",
    ["../escape", "/etc/passwd", "files/../../x", "files//x", ".partial/x", "a\\b", "", "a\x00"],
)
async def test_keys_cannot_leave_the_storage(backend: tuple[Storage, Listing], key: str) -> None:
    storage, listing = backend
    with pytest.raises(InvalidKeyError):
        await storage.put(key, stream(b"x"), max_size=10)
    with pytest.raises(InvalidKeyError):
        await storage.open(key)
    assert listing() == []


async def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "link").symlink_to(outside)
    storage = LocalStorage(folder)
    with pytest.raises(InvalidKeyError):
        await storage.put("link/x", stream(b"x"), max_size=10)
    assert list(outside.iterdir()) == []


async def test_an_unwritable_folder_is_an_outage(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    storage = LocalStorage(blocker)
    with pytest.raises(StorageUnavailableError, match="file folder cannot be used"):
        await storage.put("files/x", stream(b"x"), max_size=10)


async def test_s3_that_is_down_is_an_outage() -> None:
    with aws_environment():
        storage = await connect_storage(
            Settings(
                storage_url=f"s3://{BUCKET}/down",
                s3_endpoint_url=f"http://127.0.0.1:{closed_port()}",
            )
        )
        try:
            with pytest.raises(StorageUnavailableError, match="S3 cannot be reached"):
                await storage.put("files/x", stream(b"x"), max_size=10)
            with pytest.raises(StorageUnavailableError):
                await storage.open("files/x")
        finally:
            await storage.close()


async def test_presigned_urls_on_s3(s3_server: S3Server) -> None:
    with aws_environment():
        storage = await connect_storage(
            Settings(storage_url=f"s3://{BUCKET}/presign", s3_endpoint_url=s3_server.endpoint_url)
        )
    try:
        upload = await storage.presigned_put("uploads/p", content_type="text/plain", expires_in=60)
        assert upload is not None
        async with httpx.AsyncClient() as client:
            put = await client.put(upload.url, content=b"straight in", headers=upload.headers)
            assert put.status_code == 200, put.text
            url = await storage.presigned_get(
                "uploads/p", filename="Offert å.txt", content_type="text/plain", expires_in=60
            )
            assert url is not None
            got = await client.get(url)
        assert got.content == b"straight in"
        assert got.headers["content-disposition"] == content_disposition("Offert å.txt")
    finally:
        await storage.close()


async def test_a_local_folder_has_no_presigned_urls(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    assert not storage.direct_upload
    assert await storage.presigned_put("x", content_type="text/plain", expires_in=60) is None


def test_content_disposition_names_the_file_for_every_browser() -> None:
    assert content_disposition("offer.pdf") == 'attachment; filename="offer.pdf"'
    assert content_disposition('a "b".pdf') == (
        "attachment; filename=\"a _b_.pdf\"; filename*=UTF-8''a%20%22b%22.pdf"
    )
    assert content_disposition("Offert Malmö €.pdf") == (
        'attachment; filename="Offert Malm_ _.pdf"; '
        "filename*=UTF-8''Offert%20Malm%C3%B6%20%E2%82%AC.pdf"
    )
