"""Files on cards, end to end on both storage backends (a local folder, and S3 on moto's server
on loopback) and both databases: multipart uploads after the GraphQL multipart request spec
with their CSRF header, downloads with ranges and signed links, direct uploads to S3, deletion
after commit, limits, bad names, outages, history and query counts."""

import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from server import create_app
from services import files as file_service
from services.errors import UserFacingError
from services.ids import decode_id, encode_id
from tests.conftest import Api, StatementCounter, settings_for, wipe
from tests.helpers import (
    CONTACT_DELETE,
    CONTACT_RESTORE,
    count_rows,
    create_contact,
    new_category_id,
)
from tests.s3 import BUCKET, S3Server, aws_environment, closed_port, running_s3_server

logging.getLogger("werkzeug").setLevel(logging.ERROR)

PREFLIGHT = {"GraphQL-Require-Preflight": "1"}
FILE_FIELDS = "id name contentType size sha256 state createdAt downloadUrl uploadedBy { email }"
UPLOAD = f"""mutation($input: FileUploadInput!) {{ fileUpload(input: $input) {{
  file {{ {FILE_FIELDS} contact {{ id }} }} userErrors {{ field message code }} }} }}"""
UPLOAD_URL_CREATE = f"""mutation($input: FileUploadUrlCreateInput!) {{
  fileUploadUrlCreate(input: $input) {{ file {{ {FILE_FIELDS} }} uploadUrl uploadHeaders expiresAt
  userErrors {{ field message code }} }} }}"""
UPLOAD_CONFIRM = f"""mutation($input: FileIdInput!) {{ fileUploadConfirm(input: $input) {{
  file {{ {FILE_FIELDS} }} userErrors {{ field message code }} }} }}"""
DELETE = """mutation($input: FileIdInput!) { fileDelete(input: $input) {
  deletedId userErrors { field message code } } }"""
CARD_FILES = """query($id: ID!, $first: Int, $after: String) { contact(id: $id) {
  files(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    nodes { id name size } } } }"""
HISTORY = """query($id: ID!) { contact(id: $id) { activity { nodes {
  kind details subject { __typename id } } } } }"""


# --- both backends -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with aws_environment(), running_s3_server() as server:
        yield server


class Stored:
    """What the storage of the test holds, whatever the backend."""

    def __init__(self, folder: Path | None, s3: S3Server | None, prefix: str) -> None:
        self.folder, self.s3, self.prefix = folder, s3, prefix

    def keys(self) -> list[str]:
        if self.s3 is not None:
            return [key.removeprefix(f"{self.prefix}/") for key in self.s3.keys(self.prefix)]
        assert self.folder is not None
        if not self.folder.exists():
            return []
        found = [p for p in self.folder.rglob("*") if p.is_file()]
        return sorted(str(p.relative_to(self.folder)) for p in found)


@pytest.fixture(params=["local", "s3"])
def storage_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def stored(storage_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Stored:
    if storage_kind == "local":
        return Stored(tmp_path / "files", None, "")
    server: S3Server = request.getfixturevalue("s3_server")
    return Stored(None, server, f"t{uuid.uuid4().hex[:10]}")


@pytest.fixture
def settings_overrides(stored: Stored) -> dict[str, Any]:
    """The app of `api` keeps files in the test's own folder or S3 prefix."""
    overrides: dict[str, Any] = {"max_upload_bytes": 3 * 1024 * 1024}
    if stored.s3 is not None:
        overrides["storage_url"] = f"s3://{BUCKET}/{stored.prefix}"
        overrides["s3_endpoint_url"] = stored.s3.endpoint_url
    else:
        overrides["storage_url"] = f"file:{stored.folder}"
    return overrides


# --- helpers -------------------------------------------------------------------------------------


def multipart(
    operations: dict[str, Any],
    file_map: dict[str, list[str]],
    files: Mapping[str, tuple[str, bytes, str | None]],
) -> tuple[bytes, str]:
    """A multipart body written byte by byte (HTTP clients escape the names this module
    needs to send as they are)."""
    boundary = uuid.uuid4().hex
    parts: list[tuple[str, str | None, bytes, str | None]] = [
        ("operations", None, json.dumps(operations).encode(), None)
    ]
    parts.append(("map", None, json.dumps(file_map).encode(), None))
    parts += [(name, filename, data, kind) for name, (filename, data, kind) in files.items()]
    body = bytearray()
    for name, filename, data, kind in parts:
        body += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'.encode()
        if filename is not None:
            disposition += b'; filename="' + filename.encode() + b'"'
        body += b"Content-Disposition: " + disposition + b"\r\n"
        if kind is not None:
            body += f"Content-Type: {kind}\r\n".encode()
        body += b"\r\n" + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


async def send_upload(
    api: Api,
    contact_id: str,
    data: bytes,
    filename: str = "offer.pdf",
    content_type: str | None = "application/pdf",
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    owner: str = "contactId",
) -> httpx.Response:
    """Upload to a card (`contact_id`), or to a room with owner="roomId"."""
    body, media_type = multipart(
        {"query": UPLOAD, "variables": {"input": {owner: contact_id, "file": None}}},
        {"0": ["variables.input.file"]},
        {"0": (filename, data, content_type)},
    )
    sent = {"Content-Type": media_type, **PREFLIGHT, **(headers or {})}
    sent["Authorization"] = f"Bearer {token if token is not None else api.admin_token}"
    return await api.client.post("/graphql", content=body, headers=sent)


async def upload(api: Api, contact_id: str, data: bytes, **options: Any) -> dict[str, Any]:
    """The fileUpload payload of an upload that must go through."""
    response = await send_upload(api, contact_id, data, **options)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["fileUpload"]
    assert payload["userErrors"] == [], payload
    return payload


async def refused_upload(api: Api, contact_id: str, data: bytes, **options: Any) -> list[Any]:
    """The userErrors of an upload that must be refused."""
    response = await send_upload(api, contact_id, data, **options)
    body = response.json()
    assert "errors" not in body, body
    payload = body["data"]["fileUpload"]
    assert payload["file"] is None, payload
    assert payload["userErrors"], payload
    errors: list[Any] = payload["userErrors"]
    return errors


async def a_card(api: Api, name: str = "Acme") -> str:
    category_id = await new_category_id(api, f"c{uuid.uuid4().hex[:6]}")
    card_id: str = (await create_contact(api, category_id, name))["id"]
    return card_id


def route_of(url: str) -> str:
    """The path and query of a link to the service, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def fetch(api: Api, url: str, **headers: str) -> httpx.Response:
    """A download link: the service's own (through the test client) or S3's (over loopback)."""
    if url.startswith("http://127.0.0.1:8000/"):
        return await api.client.get(route_of(url), headers=headers)
    async with httpx.AsyncClient() as client:
        return await client.get(url, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CONTENT = bytes(range(256)) * 4096 + b"the end"  # 1 MiB and a bit


# --- upload and download -------------------------------------------------------------------------


async def test_a_file_goes_up_and_comes_down_the_same(admin: Api, stored: Stored) -> None:
    card = await a_card(admin)
    file = (await upload(admin, card, CONTENT, filename="Offert Malmö.pdf"))["file"]
    assert file["name"] == "Offert Malmö.pdf"
    assert file["contentType"] == "application/pdf"
    assert file["size"] == len(CONTENT)
    assert file["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert (file["state"], file["uploadedBy"]["email"]) == ("READY", "ada@example.com")
    assert file["contact"]["id"] == card
    assert len(stored.keys()) == 1

    response = await admin.client.get(f"/files/{file['id']}", headers=bearer(admin.admin_token))
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.headers["etag"] == f'"{file["sha256"]}"'
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Offert Malm_.pdf\"; filename*=UTF-8''Offert%20Malm%C3%B6.pdf"
    )
    assert response.headers["x-content-type-options"] == "nosniff"

    linked = await fetch(admin, file["downloadUrl"])
    assert linked.status_code == 200
    assert linked.content == CONTENT
    assert "filename*=UTF-8''Offert%20Malm%C3%B6.pdf" in linked.headers["content-disposition"]

    again = await admin.client.get(
        f"/files/{file['id']}",
        headers={**bearer(admin.admin_token), "If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304

    head = await admin.client.head(f"/files/{file['id']}", headers=bearer(admin.admin_token))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(CONTENT))


async def test_the_content_type_is_the_clients_or_guessed_from_the_name(admin: Api) -> None:
    card = await a_card(admin)
    sent = await upload(admin, card, b"a,b\n", filename="list.csv", content_type="text/csv")
    assert sent["file"]["contentType"] == "text/csv"
    guessed = await upload(
        admin, card, b"%PDF", filename="scan.pdf", content_type="application/octet-stream"
    )
    assert guessed["file"]["contentType"] == "application/pdf"
    unknown = await upload(admin, card, b"?", filename="blob.zz9", content_type=None)
    assert unknown["file"]["contentType"] == "application/octet-stream"


async def test_single_byte_ranges(admin: Api) -> None:
    card = await a_card(admin)
    file = (await upload(admin, card, CONTENT))["file"]
    url, auth = f"/files/{file['id']}", bearer(admin.admin_token)
    size = len(CONTENT)

    async def get(range_header: str, **more: str) -> httpx.Response:
        return await admin.client.get(url, headers={**auth, "Range": range_header, **more})

    middle = await get("bytes=100-199")
    assert middle.status_code == 206
    assert middle.content == CONTENT[100:200]
    assert middle.headers["content-range"] == f"bytes 100-199/{size}"
    assert middle.headers["content-length"] == "100"
    tail = await get("bytes=-7")
    assert tail.status_code == 206
    assert tail.content == b"the end"
    rest = await get(f"bytes={size - 3}-")
    assert rest.content == b"end"
    beyond_end = await get(f"bytes={size - 2}-{size + 100}")
    assert beyond_end.status_code == 206
    assert beyond_end.content == b"nd"

    unsatisfiable = await get(f"bytes={size}-")
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{size}"
    assert unsatisfiable.json()["errors"][0]["extensions"]["code"] == "RANGE_NOT_SATISFIABLE"

    several = await get("bytes=0-1,5-6")  # not served piecewise: the whole file
    assert several.status_code == 200
    assert several.content == CONTENT
    stale = await get("bytes=0-1", **{"If-Range": '"another version"'})
    assert stale.status_code == 200
    assert len(stale.content) == size
    fresh = await get("bytes=0-1", **{"If-Range": f'"{file["sha256"]}"'})
    assert fresh.status_code == 206
    assert fresh.content == CONTENT[:2]
    backwards = await get("bytes=9-3")
    assert backwards.status_code == 200


# --- links and rights ----------------------------------------------------------------------------


async def test_a_signed_link_works_until_it_expires_and_not_once_altered(admin: Api) -> None:
    card = await a_card(admin)
    file = (await upload(admin, card, b"signed content"))["file"]
    links = admin.resources.links
    file_id = decode_id(file["id"], "File")
    me = decode_id((await admin.ok("{ me { id } }"))["me"]["id"], "User")
    good = await links.url(global_id=file["id"], file_id=file_id, user_id=me)
    assert good.startswith("http://127.0.0.1:8000/files/")
    assert (await admin.client.get(route_of(good))).content == b"signed content"

    expired = await links.url(
        global_id=file["id"], file_id=file_id, user_id=me, now=time.time() - 3600
    )
    response = await admin.client.get(route_of(expired))
    assert response.status_code == 403
    assert "expired" in response.json()["errors"][0]["message"]

    query = {k: v[0] for k, v in parse_qs(urlsplit(good).query).items()}
    # Two characters changed (never to what they were: a signature may end in "AA" itself).
    ending = "BB" if query["signature"].endswith("AA") else "AA"
    for changed in (
        {"signature": query["signature"][:-2] + ending},
        {"expires": str(int(query["expires"]) + 3600)},
        {"user": str(me + 1)},
        {"signature": ""},
    ):
        tampered = f"/files/{file['id']}?{urlencode({**query, **changed})}"
        response = await admin.client.get(tampered)
        assert response.status_code == 403, changed
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    other = (await upload(admin, card, b"another file"))["file"]
    moved = f"/files/{other['id']}?{urlencode(query)}"  # the link of one file, for another
    assert (await admin.client.get(moved)).status_code == 403


async def test_downloads_need_rights(admin: Api, storage_kind: str) -> None:
    card = await a_card(admin)
    file = (await upload(admin, card, b"private offer"))["file"]
    route = f"/files/{file['id']}"

    anonymous = await admin.client.get(route)
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    bad_token = await admin.client.get(route, headers=bearer("crm_s_nonsense"))
    assert bad_token.status_code == 401
    # Nothing tells an anonymous caller whether a file exists.
    missing = f"/files/{encode_id('File', 99999)}"
    assert (await admin.client.get(missing)).status_code == 401
    assert (await admin.client.get(missing, headers=bearer(admin.admin_token))).status_code == 404
    not_a_file = f"/files/{card}"
    assert (
        await admin.client.get(not_a_file, headers=bearer(admin.admin_token))
    ).status_code == 404

    viewer = await admin.add_user("vera@example.com", "VIEWER")
    assert (await admin.client.get(route, headers=bearer(viewer))).content == b"private offer"

    # A link made for a user stops working when that user is deactivated.
    member = await admin.add_user("bo@example.com", "MEMBER")
    data = await admin.ok(
        "query($id: ID!) { node(id: $id) { ... on File { downloadUrl } } }",
        {"id": file["id"]},
        token=member,
    )
    members_link = data["node"]["downloadUrl"]
    assert (await fetch(admin, members_link)).status_code == 200
    member_id = (await admin.ok("{ me { id } }", token=member))["me"]["id"]
    await admin.ok(
        """mutation($input: UserUpdateInput!) { userUpdate(input: $input) {
           user { active } userErrors { field message code } } }""",
        {"input": {"id": member_id, "active": False}},
    )
    if storage_kind == "local":
        response = await fetch(admin, members_link)
        assert response.status_code == 403
        assert "deactivated" in response.json()["errors"][0]["message"]
    # (An S3 link is S3's own: it works until it expires, CRM_DOWNLOAD_URL_TTL_SECONDS.)


async def test_a_rooms_own_files_are_its_members_alone(admin: Api, storage_kind: str) -> None:
    lea = await admin.add_user("lea@example.com", "MEMBER", "Lea")
    max_ = await admin.add_user("max@example.com", "MEMBER", "Max")
    olga = await admin.add_user("olga@example.com", "MEMBER", "Olga")
    room = (
        await admin.ok(
            'mutation { roomCreate(input: {name: "Customers 2027"}) { room { id } } }',
            token=lea,
        )
    )["roomCreate"]["room"]["id"]
    max_id = (await admin.ok("{ me { id } }", token=max_))["me"]["id"]
    await admin.ok(
        """mutation($input: RoomMemberInput!) { roomMemberAdd(input: $input) {
           userErrors { code } } }""",
        {"input": {"roomId": room, "userId": max_id}},
        token=lea,
    )
    file = (await upload(admin, room, b"kick-off slides", owner="roomId", token=lea))["file"]
    route = f"/files/{file['id']}"
    assert (await admin.client.get(route, headers=bearer(max_))).content == b"kick-off slides"
    assert (await admin.client.get(route, headers=bearer(olga))).status_code == 404
    errors = await refused_upload(admin, room, b"mine", owner="roomId", token=olga)
    assert errors[0]["code"] == "NOT_FOUND"
    errors = await admin.user_errors(DELETE, {"input": {"id": file["id"]}}, token=olga)
    assert errors[0]["code"] == "NOT_FOUND"
    listed = await admin.ok(
        "query($id: ID!) { node(id: $id) { ... on ProjectRoom { files { totalCount nodes { name } } } } }",
        {"id": room},
        token=max_,
    )
    assert listed["node"]["files"] == {"totalCount": 1, "nodes": [{"name": "offer.pdf"}]}

    # A link made for a member stops working when they leave the room.
    link = (
        await admin.ok(
            "query($id: ID!) { node(id: $id) { ... on File { downloadUrl } } }",
            {"id": file["id"]},
            token=max_,
        )
    )["node"]["downloadUrl"]
    await admin.ok(
        """mutation($input: RoomMemberInput!) { roomMemberRemove(input: $input) {
           userErrors { code } } }""",
        {"input": {"roomId": room, "userId": max_id}},
        token=lea,
    )
    if storage_kind == "local":
        assert (await fetch(admin, link)).status_code == 404
    # (An S3 link is S3's own: it works until it expires, CRM_DOWNLOAD_URL_TTL_SECONDS.)
    assert (await admin.client.get(route, headers=bearer(max_))).status_code == 404


async def test_files_of_a_card_in_the_bin_stay_readable_but_take_no_new_files(
    admin: Api, stored: Stored
) -> None:
    card = await a_card(admin)
    file = (await upload(admin, card, b"kept in the bin"))["file"]
    await admin.ok(CONTACT_DELETE, {"input": {"id": card}})
    response = await admin.client.get(f"/files/{file['id']}", headers=bearer(admin.admin_token))
    assert response.content == b"kept in the bin"
    listed = await admin.ok(CARD_FILES, {"id": card})
    assert listed["contact"]["files"]["totalCount"] == 1

    errors = await refused_upload(admin, card, b"new")
    assert errors[0]["code"] == "ARCHIVED"
    assert errors[0]["field"] == ["contactId"]
    deleting = await admin.user_errors(DELETE, {"input": {"id": file["id"]}})
    assert deleting[0]["code"] == "ARCHIVED"
    assert len(stored.keys()) == 1  # the refused upload left nothing

    await admin.ok(CONTACT_RESTORE, {"input": {"id": card}})
    await upload(admin, card, b"new")


# --- limits and bad input ------------------------------------------------------------------------


async def test_a_file_over_the_limit_is_refused_and_leaves_nothing(
    admin: Api, stored: Stored
) -> None:
    card = await a_card(admin)
    too_large = b"x" * (3 * 1024 * 1024 + 1)
    response = await send_upload(admin, card, too_large)
    assert response.status_code == 413
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "TOO_LARGE"
    assert "CRM_MAX_UPLOAD_BYTES" in error["message"]
    assert stored.keys() == []
    assert await count_rows(admin, "stored_file") == 0

    # A body that says up front it is larger than any upload is refused before it is read.
    body, media_type = multipart({"query": UPLOAD}, {}, {})
    declared = await admin.client.post(
        "/graphql",
        content=body,
        headers={
            "Content-Type": media_type,
            "Content-Length": str(5 * 1024 * 1024),
            **PREFLIGHT,
        },
    )
    assert declared.status_code == 413


async def test_an_empty_file_is_refused(admin: Api, stored: Stored) -> None:
    card = await a_card(admin)
    errors = await refused_upload(admin, card, b"")
    assert errors == [
        {
            "field": ["file"],
            "message": "The file is empty (0 bytes); choose a file with content",
            "code": "INVALID",
        }
    ]
    assert stored.keys() == []


@pytest.mark.parametrize(
    ("filename", "says"),
    [
        ("../../etc/passwd", "path separator ('/')"),
        ("reports/q1.pdf", "give the name alone, such as 'q1.pdf'"),
        ("dir\\offer.pdf", "path separator ('\\\\')"),
        ("bell\x07.pdf", "control character (U+0007)"),
        ("line\nbreak.pdf", "control character (U+000A)"),
        ("nul\x00.pdf", "NUL character (U+0000)"),
        ("invoice\u202efdp.exe", "control character (U+202E)"),
        ("   ", "The file name is empty"),
        ("..", "'..' is not a file name"),
        ("n" * 256 + ".pdf", "260 characters long; at most 255 fit"),
    ],
)
async def test_bad_file_names_are_refused_naming_the_field(
    admin: Api, stored: Stored, filename: str, says: str
) -> None:
    card = await a_card(admin)
    errors = await refused_upload(admin, card, b"content", filename=filename)
    assert errors[0]["field"] == ["file"]
    assert says in errors[0]["message"]
    assert stored.keys() == []
    assert await count_rows(admin, "stored_file") == 0


async def test_an_upload_to_no_card_is_refused_and_leaves_nothing(
    admin: Api, stored: Stored
) -> None:
    errors = await refused_upload(admin, encode_id("Contact", 4242), b"orphan")
    assert errors[0]["code"] == "NOT_FOUND"
    assert errors[0]["field"] == ["contactId"]
    assert stored.keys() == []


async def test_one_file_part_for_two_uploads_is_kept_once(admin: Api, stored: Stored) -> None:
    card = await a_card(admin)
    twice = """mutation($a: FileUploadInput!, $b: FileUploadInput!) {
      a: fileUpload(input: $a) { file { id } userErrors { field message } }
      b: fileUpload(input: $b) { file { id } userErrors { field message } } }"""
    body, media_type = multipart(
        {
            "query": twice,
            "variables": {
                "a": {"contactId": card, "file": None},
                "b": {"contactId": card, "file": None},
            },
        },
        {"0": ["variables.a.file", "variables.b.file"]},
        {"0": ("one.txt", b"once", "text/plain")},
    )
    response = await admin.client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": media_type, **PREFLIGHT, **bearer(admin.admin_token)},
    )
    data = response.json()["data"]
    assert data["a"]["file"] is not None
    assert data["b"]["file"] is None
    assert data["b"]["userErrors"][0]["field"] == ["file"]
    assert len(stored.keys()) == 1


# --- the multipart protocol ------------------------------------------------------------------------


async def test_a_plain_browser_form_post_is_refused_and_writes_nothing(
    admin: Api, stored: Stored
) -> None:
    card = await a_card(admin)
    # What a form on another site can send: multipart, no custom header (and no credentials
    # but cookies, which the service ignores).
    response = await send_upload(admin, card, b"forged", headers={"GraphQL-Require-Preflight": ""})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "PREFLIGHT_REQUIRED"
    assert "GraphQL-Require-Preflight" in error["message"]
    # Nor any other mutation sent as a form.
    category = """mutation { categoryCreate(input: {key: "forged", name: "Forged"}) {
      category { id } userErrors { message } } }"""
    body, media_type = multipart({"query": category}, {}, {})
    as_form = await admin.client.post(
        "/graphql", content=body, headers={"Content-Type": media_type, **bearer(admin.admin_token)}
    )
    assert as_form.status_code == 400
    assert await count_rows(admin, "category") == 1  # the card's own
    urlencoded = await admin.client.post(
        "/graphql",
        content=urlencode({"query": UPLOAD}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert urlencoded.status_code == 415
    assert stored.keys() == []
    assert await count_rows(admin, "stored_file") == 0


async def test_apollo_clients_preflight_header_is_accepted(admin: Api) -> None:
    card = await a_card(admin)
    response = await send_upload(
        admin,
        card,
        b"x",
        headers={"GraphQL-Require-Preflight": "", "Apollo-Require-Preflight": "true"},
    )
    assert response.json()["data"]["fileUpload"]["file"] is not None


async def test_uploads_need_a_signed_in_member_before_anything_is_stored(
    admin: Api, stored: Stored
) -> None:
    card = await a_card(admin)
    anonymous = await send_upload(admin, card, b"x", token="")
    assert anonymous.status_code == 401
    viewer = await admin.add_user("vera@example.com", "VIEWER")
    as_viewer = await send_upload(admin, card, b"x", token=viewer)
    assert as_viewer.status_code == 403
    assert as_viewer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert stored.keys() == []


@pytest.mark.parametrize(
    ("operations", "file_map", "files", "says"),
    [
        (
            {"query": "{ me { id } }", "variables": {"f": None}},
            {"0": ["variables.f"]},
            {"0": ("a.txt", b"x", "text/plain")},
            "mutation only",
        ),
        (
            [{"query": UPLOAD}],
            {},
            {},
            "Batching is not supported",
        ),
        (
            {"query": UPLOAD, "variables": {"input": {"contactId": "x", "file": "not null"}}},
            {"0": ["variables.input.file"]},
            {"0": ("a.txt", b"x", "text/plain")},
            "not a null value in `variables`",
        ),
        (
            {"query": UPLOAD, "variables": {"input": {"contactId": "x", "file": None}}},
            {"0": ["variables.input.file"]},
            {},
            "`map` names the file part '0', but the request has none",
        ),
        (
            {"query": UPLOAD, "variables": {"input": {"contactId": "x", "file": None}}},
            {"0": ["variables.input.file"]},
            {"0": ("a.txt", b"x", "text/plain"), "1": ("b.txt", b"y", "text/plain")},
            "The part '1' is not a file that `map` names",
        ),
    ],
    ids=["query", "batch", "not-null", "missing-part", "extra-part"],
)
async def test_malformed_multipart_requests_are_refused(
    admin: Api,
    stored: Stored,
    operations: Any,
    file_map: dict[str, list[str]],
    files: dict[str, tuple[str, bytes, str]],
    says: str,
) -> None:
    body, media_type = multipart(operations, file_map, files)
    response = await admin.client.post(
        "/graphql",
        content=body,
        headers={"Content-Type": media_type, **PREFLIGHT, **bearer(admin.admin_token)},
    )
    assert response.status_code == 400, response.text
    assert says in response.json()["errors"][0]["message"]
    assert stored.keys() == []


async def test_an_upload_in_a_json_request_is_refused(admin: Api) -> None:
    card = await a_card(admin)
    errors = await admin.errors(UPLOAD, {"input": {"contactId": card, "file": "AAAA"}})
    assert "multipart" in errors[0]["message"]


async def test_a_body_cut_short_leaves_nothing(admin: Api, stored: Stored) -> None:
    card = await a_card(admin)
    body, media_type = multipart(
        {"query": UPLOAD, "variables": {"input": {"contactId": card, "file": None}}},
        {"0": ["variables.input.file"]},
        {"0": ("cut.bin", b"y" * 2_000_000, "application/octet-stream")},
    )
    response = await admin.client.post(
        "/graphql",
        content=body[:1_500_000],
        headers={"Content-Type": media_type, **PREFLIGHT, **bearer(admin.admin_token)},
    )
    assert response.status_code == 400
    assert "ended before its closing boundary" in response.json()["errors"][0]["message"]
    assert stored.keys() == []
    assert await count_rows(admin, "stored_file") == 0


# --- deletion ------------------------------------------------------------------------------------


async def test_deleting_a_file_removes_its_object_after_commit(admin: Api, stored: Stored) -> None:
    card = await a_card(admin)
    file = (await upload(admin, card, b"to be deleted"))["file"]
    assert len(stored.keys()) == 1
    data = await admin.ok(DELETE, {"input": {"id": file["id"]}})
    assert data["fileDelete"]["deletedId"] == file["id"]
    assert stored.keys() == []
    response = await admin.client.get(f"/files/{file['id']}", headers=bearer(admin.admin_token))
    assert response.status_code == 404
    again = await admin.user_errors(DELETE, {"input": {"id": file["id"]}})
    assert again[0]["code"] == "NOT_FOUND"


async def test_a_deletion_rolled_back_keeps_the_object(
    admin: Api, stored: Stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = await a_card(admin)
    file = (await upload(admin, card, b"survives"))["file"]

    async def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise UserFacingError.one("the history refused the change")

    monkeypatch.setattr(file_service, "record", refuse)
    errors = await admin.user_errors(DELETE, {"input": {"id": file["id"]}})
    assert errors[0]["message"] == "the history refused the change"
    monkeypatch.undo()
    assert len(stored.keys()) == 1
    response = await admin.client.get(f"/files/{file['id']}", headers=bearer(admin.admin_token))
    assert response.content == b"survives"


# --- outages -------------------------------------------------------------------------------------


@asynccontextmanager
async def broken_storage_api(database_url: str, storage: dict[str, str]) -> AsyncIterator[Api]:
    """An app whose storage is out of order, with an admin signed in."""
    app = create_app(settings_for(database_url, **storage))
    async with app.router.lifespan_context(app):
        engine = app.state.resources.engine
        await wipe(engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            api = Api(client, engine, StatementCounter(), app.state.resources)
            await api.sign_up_admin()
            yield api


async def test_a_storage_outage_is_unavailable_and_writes_no_row(
    database_url: str, storage_kind: str, tmp_path: Path
) -> None:
    if storage_kind == "s3":
        down = {
            "storage_url": f"s3://{BUCKET}/down",
            "s3_endpoint_url": f"http://127.0.0.1:{closed_port()}",
        }
    else:
        blocker = tmp_path / "a-file-where-the-folder-should-be"
        blocker.write_text("")
        down = {"storage_url": f"file:{blocker}"}
    with aws_environment():
        async with broken_storage_api(database_url, down) as api:
            card = await a_card(api)
            response = await send_upload(api, card, b"during the outage")
            assert response.status_code == 503
            assert response.headers["retry-after"] == "2"
            error = response.json()["errors"][0]
            assert error["extensions"]["code"] == "UNAVAILABLE"
            assert "nothing was saved" in error["message"]
            assert await count_rows(api, "stored_file") == 0


# --- direct upload to S3 -------------------------------------------------------------------------


async def test_a_direct_upload_goes_straight_to_s3(
    admin: Api, stored: Stored, storage_kind: str
) -> None:
    card = await a_card(admin)
    data = b"straight into the bucket" * 1000
    announce = {"contactId": card, "name": "big.bin", "size": len(data)}
    if storage_kind == "local":
        errors = await admin.user_errors(UPLOAD_URL_CREATE, {"input": announce})
        assert "Direct upload needs S3" in errors[0]["message"]
        return
    created = (await admin.ok(UPLOAD_URL_CREATE, {"input": announce}))["fileUploadUrlCreate"]
    file = created["file"]
    assert (file["state"], file["sha256"], file["downloadUrl"]) == ("PENDING", None, None)
    listed = await admin.ok(CARD_FILES, {"id": card})
    assert listed["contact"]["files"]["totalCount"] == 0  # not before it is confirmed

    early = await admin.user_errors(UPLOAD_CONFIRM, {"input": {"id": file["id"]}})
    assert early[0]["code"] == "NOT_FOUND"
    assert "PUT the file" in early[0]["message"]

    async with httpx.AsyncClient() as client:
        short = await client.put(
            created["uploadUrl"], content=data[:-1], headers=created["uploadHeaders"]
        )
        assert short.status_code == 200
        wrong = await admin.user_errors(UPLOAD_CONFIRM, {"input": {"id": file["id"]}})
        assert wrong[0]["code"] == "CONFLICT"
        assert f"holds {len(data) - 1} bytes, but {len(data)} were announced" in wrong[0]["message"]

        put = await client.put(created["uploadUrl"], content=data, headers=created["uploadHeaders"])
        assert put.status_code == 200
    confirmed = (await admin.ok(UPLOAD_CONFIRM, {"input": {"id": file["id"]}}))["fileUploadConfirm"]
    ready = confirmed["file"]
    assert (ready["state"], ready["sha256"]) == ("READY", hashlib.sha256(data).hexdigest())
    assert (await fetch(admin, ready["downloadUrl"])).content == data
    (key,) = stored.keys()
    assert key.startswith("files/")  # moved off the upload key, out of reach of the URL
    again = await admin.ok(UPLOAD_CONFIRM, {"input": {"id": file["id"]}})
    assert again["fileUploadConfirm"]["file"]["sha256"] == ready["sha256"]


async def test_a_direct_upload_is_announced_with_a_good_name_and_size(
    admin: Api, storage_kind: str
) -> None:
    if storage_kind == "local":
        pytest.skip("direct uploads need S3")
    card = await a_card(admin)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"size": 0}, "size", "empty"),
        ({"size": 3 * 1024 * 1024 + 1}, "size", "at most 3145728 bytes"),
        ({"name": "a/b"}, "name", "path separator"),
        ({"contentType": "not a type"}, "contentType", "not a media type"),
    ]
    for changes, field, says in cases:
        announce = {"contactId": card, "name": "ok.bin", "size": 10, **changes}
        errors = await admin.user_errors(UPLOAD_URL_CREATE, {"input": announce})
        assert errors[0]["field"] == [field], errors
        assert says in errors[0]["message"], errors
    assert await count_rows(admin, "stored_file") == 0


async def test_a_pending_upload_is_its_uploaders_alone(admin: Api, storage_kind: str) -> None:
    if storage_kind == "local":
        pytest.skip("direct uploads need S3")
    card = await a_card(admin)
    announce = {"contactId": card, "name": "mine.bin", "size": 10}
    created = (await admin.ok(UPLOAD_URL_CREATE, {"input": announce}))["fileUploadUrlCreate"]
    member = await admin.add_user("bo@example.com", "MEMBER")
    node = await admin.ok(
        "query($id: ID!) { node(id: $id) { id } }", {"id": created["file"]["id"]}, token=member
    )
    assert node["node"] is None
    errors = await admin.user_errors(
        UPLOAD_CONFIRM, {"input": {"id": created["file"]["id"]}}, token=member
    )
    assert errors[0]["code"] == "NOT_FOUND"
    deleted = await admin.ok(DELETE, {"input": {"id": created["file"]["id"]}})
    assert deleted["fileDelete"]["deletedId"] == created["file"]["id"]


# --- history and lists ---------------------------------------------------------------------------


async def test_adding_and_deleting_files_is_in_the_cards_history(admin: Api) -> None:
    card = await a_card(admin)
    file = (await upload(admin, card, b"history", filename="notes.txt", content_type="text/plain"))[
        "file"
    ]
    await admin.ok(DELETE, {"input": {"id": file["id"]}})
    events = (await admin.ok(HISTORY, {"id": card}))["contact"]["activity"]["nodes"]
    deleted, added = events[0], events[1]
    assert deleted["kind"] == "FILE_DELETED"
    assert deleted["details"] == {"name": "notes.txt"}
    assert added["kind"] == "FILE_ADDED"
    assert added["details"] == {"name": "notes.txt", "size": 7, "contentType": "text/plain"}
    assert deleted["subject"] is None  # the file is gone


async def test_a_cards_files_page_newest_first(admin: Api) -> None:
    card = await a_card(admin)
    for name in ("a.txt", "b.txt", "c.txt"):
        await upload(admin, card, name.encode(), filename=name, content_type="text/plain")
    first = (await admin.ok(CARD_FILES, {"id": card, "first": 2}))["contact"]["files"]
    assert [f["name"] for f in first["nodes"]] == ["c.txt", "b.txt"]
    assert (first["totalCount"], first["pageInfo"]["hasNextPage"]) == (3, True)
    after = {"id": card, "first": 2, "after": first["pageInfo"]["endCursor"]}
    second = (await admin.ok(CARD_FILES, after))["contact"]["files"]
    assert [f["name"] for f in second["nodes"]] == ["a.txt"]
    assert (second["totalCount"], second["pageInfo"]["hasNextPage"]) == (3, False)
    past = {"id": card, "first": 2, "after": second["pageInfo"]["endCursor"]}
    beyond = (await admin.ok(CARD_FILES, past))["contact"]["files"]
    assert (beyond["nodes"], beyond["totalCount"]) == ([], 3)


CARDS_WITH_FILES = """query($c: ID!, $first: Int) { contacts(categoryId: $c, first: $first) {
  nodes { name files(first: 5) { totalCount nodes { name size sha256 contentType createdAt
    downloadUrl uploadedBy { email } } } } } }"""


async def test_files_of_a_page_of_cards_cost_the_same_statements_for_any_page_size(
    admin: Api,
) -> None:
    category_id = await new_category_id(admin, "counted")
    for number in range(6):
        card = (await create_contact(admin, category_id, f"Card {number}"))["id"]
        for copy in range(2):
            await upload(admin, card, f"{number}-{copy}".encode(), filename=f"{copy}.txt")
    await admin.ok(CARDS_WITH_FILES, {"c": category_id, "first": 1})  # the link key is read once
    small = await admin.count_statements(CARDS_WITH_FILES, {"c": category_id, "first": 2})
    large = await admin.count_statements(CARDS_WITH_FILES, {"c": category_id, "first": 6})
    assert small == large
    file_statements = [s for s in admin.counter.statements if "stored_file" in s]
    assert len(file_statements) == 1


async def test_a_client_that_goes_away_midway_leaves_nothing(admin: Api, stored: Stored) -> None:
    card = await a_card(admin)
    body, media_type = multipart(
        {"query": UPLOAD, "variables": {"input": {"contactId": card, "file": None}}},
        {"0": ["variables.input.file"]},
        {"0": ("gone.bin", b"z" * 2_000_000, "application/octet-stream")},
    )
    chunks = [body[i : i + 65536] for i in range(0, 1_200_000, 65536)]
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    messages.append({"type": "http.disconnect"})
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"content-type", media_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"graphql-require-preflight", b"1"),
        (b"authorization", f"Bearer {admin.admin_token}".encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    transport = admin.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    await transport.app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert stored.keys() == []
    assert await count_rows(admin, "stored_file") == 0
